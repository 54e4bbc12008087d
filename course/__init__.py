"""The lectures: one MyST source per lecture (course/src) and its generated PyTorch and TensorFlow notebooks."""
