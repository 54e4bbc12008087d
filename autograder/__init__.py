"""The Loss Curves grading pipeline: nbgrader as the engine, Dask for parallel workers, one command for a class."""
