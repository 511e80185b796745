from services.classification.app import SERVICE, app, settings
from services.common.stream_app import run_worker

run_worker(app, SERVICE, settings)
