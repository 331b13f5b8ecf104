"""Everything that touches the WordPress database: tables, migrations, queries, users and roles,
locks and the audit-log writer."""
