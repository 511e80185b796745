"""capture: maps the platform's event to the unified record, fetches the files into the staging bucket
and takes their digests."""
