"""What a student may do in a stack with seats: the role they assume, reaching only their seat."""

from .student_role import SeatResources, StudentRole

__all__ = ["SeatResources", "StudentRole"]
