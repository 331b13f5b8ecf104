"""Scheduled jobs (syncs with Onderwijs Vlaanderen and AgODi, the rollover, the mail sender), their
outside sources and the scheduler process. The jobs arrive with their own issues."""
