"""The distributed shell: the same stream handlers over Apache Kafka, one engine per input partition."""
