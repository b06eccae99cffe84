"""Event bus: in-process (embedded default) or NATS JetStream (scale-out), one interface."""

from ringfence.bus.base import DeadLetterSink, EventBus, Handler, decode_batch, encode_batch
from ringfence.bus.memory import InProcessBus
from ringfence.bus.nats import NatsBus

__all__ = [
    "DeadLetterSink",
    "EventBus",
    "Handler",
    "InProcessBus",
    "NatsBus",
    "decode_batch",
    "encode_batch",
]
