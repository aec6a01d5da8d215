"""Kafka: the consumer loop of the ingester and the simulator's publisher."""
