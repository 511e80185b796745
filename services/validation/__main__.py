from services.common.stream_app import run_worker
from services.validation.app import SERVICE, app, settings

run_worker(app, SERVICE, settings)
