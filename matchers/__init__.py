"""Pure decisions, no I/O: an event and the state it needs in, findings and matches out."""
