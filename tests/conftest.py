"""Shared test settings: a headless matplotlib and a quiet TensorFlow for every test and notebook."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
