"""The PostgreSQL index: schema migrations (Alembic) and the asyncpg adapter."""
