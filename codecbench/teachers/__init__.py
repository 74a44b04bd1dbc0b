"""Teachers for semantic distillation: frozen feature extractors (importing this registers the built-ins)."""

from codecbench.teachers import checkpoint, random_conv
from codecbench.teachers.base import TEACHERS, Teacher
from codecbench.teachers.checkpoint import CheckpointTeacher
from codecbench.teachers.random_conv import RandomConvTeacher

__all__ = ["TEACHERS", "CheckpointTeacher", "RandomConvTeacher", "Teacher", "checkpoint", "random_conv"]
