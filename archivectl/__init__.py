"""archivectl: the operator's command line — topics, migrations, local services, sample feed, summary."""
