"""The one consume → process → produce → commit loop (see docs/stream.md)."""

from hub.stream.loop import Outcome, Processor, StreamLoop
from hub.stream.slots import MemberSlot, claim_slot

__all__ = ["MemberSlot", "Outcome", "Processor", "StreamLoop", "claim_slot"]
