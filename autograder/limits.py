"""What one submission may use while it is graded: the numbers every sandboxed kernel is held to."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Defaults fit the course's assignments with room to spare on 2 cores."""

    cpu_seconds: int = 600        # CPU time of each kernel process (RLIMIT_CPU): SIGXCPU, SIGKILL 5 s later
    memory_mb: int = 4096         # address space per process (RLIMIT_AS); TensorFlow alone maps ~2.4 GB
    wall_seconds: int = 900       # one notebook, kernel start to shutdown; the kernel is killed past it
    cell_timeout: int = 120       # one cell; then the kernel is interrupted and the next cell runs
    output_bytes: int = 1_000_000  # output kept per cell; the rest is dropped while it streams in
    max_processes: int = 256      # processes + threads of the kernel's uid (RLIMIT_NPROC); TF starts ~60 threads
    file_mb: int = 256            # largest file the kernel may write (RLIMIT_FSIZE)
    disk_mb: int = 512            # everything the kernel may write, together: its folder, /tmp and /dev/shm
