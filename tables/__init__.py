"""Keyed state: dict-like tables over an in-memory or a rocksdict store."""

from .memory import MemoryStore
from .rocks import RocksStore
from .store import JSON, Codec, JsonCodec, ModelCodec, Store, Table

__all__ = ["JSON", "Codec", "JsonCodec", "MemoryStore", "ModelCodec", "RocksStore", "Store", "Table"]
