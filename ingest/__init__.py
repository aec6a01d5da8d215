"""The Lasair-NB ingester: alert packets in, archive rows out.

The flow is ``sources`` (files, tarballs, Kafka) → ``decode`` (Avro, cached
schemas) → ``rows`` (pure row building) → ``writer`` (one transaction per batch,
with ``objects`` summaries updated in the same transaction).
"""
