# Kehu CRM. `make run` serves a demo on http://127.0.0.1:8000; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
VENDOR := src/kehu/static/vendor
export DJANGO_SETTINGS_MODULE ?= kehu.settings.embedded

.PHONY: run test install install-test vendor migrate demo lint messages worker beat bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed vendor
install-test: $(VENV)/.installed-test vendor

# Front-end libraries come from the npm registry, pinned by package-lock.json, and are served by us.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

$(VENDOR)/.copied: node_modules/.package-lock.json
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/bootstrap $(VENDOR)/bootstrap-icons
	cp node_modules/bootstrap/dist/css/bootstrap.min.css node_modules/bootstrap/dist/js/bootstrap.bundle.min.js $(VENDOR)/bootstrap/
	cp -r node_modules/bootstrap-icons/font/bootstrap-icons.min.css node_modules/bootstrap-icons/font/fonts $(VENDOR)/bootstrap-icons/
	mkdir -p $(VENDOR)/echarts $(VENDOR)/sortablejs
	cp node_modules/echarts/dist/echarts.min.js $(VENDOR)/echarts/
	cp node_modules/sortablejs/Sortable.min.js $(VENDOR)/sortablejs/
	touch $@

vendor: $(VENDOR)/.copied

migrate: install
	$(BIN)/kehu migrate --noinput

demo: migrate
	$(BIN)/kehu seed_demo

run: demo
	@echo ""
	@echo "Kehu CRM: http://127.0.0.1:$(PORT)/  (sign in with the demo login above; Ctrl+C stops)"
	$(BIN)/kehu runserver 127.0.0.1:$(PORT)

test: install-test
	DJANGO_SETTINGS_MODULE=kehu.settings.test $(BIN)/ruff check src tests benchmarks
	DJANGO_SETTINGS_MODULE=kehu.settings.test $(BIN)/kehu makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=kehu.settings.test $(BIN)/pytest $(PYTEST_ARGS)

# Production-like background processing: Celery with Redis as broker. The embedded settings run jobs
# in-process, so these targets need the production settings and their environment (see README.md).
CELERY_SETTINGS_CHECK = case "$$DJANGO_SETTINGS_MODULE" in *.embedded|*.test) \
	echo "Celery needs a broker: export DJANGO_SETTINGS_MODULE=kehu.settings.production, REDIS_URL, DATABASE_URL," \
	     "DJANGO_SECRET_KEY and ALLOWED_HOSTS first (see README.md, Production)." >&2; exit 2;; esac
WORKER_CONCURRENCY ?= 2

worker: install
	@$(CELERY_SETTINGS_CHECK)
	$(BIN)/celery -A kehu worker --loglevel=INFO --concurrency=$(WORKER_CONCURRENCY)

beat: install
	@$(CELERY_SETTINGS_CHECK)
	mkdir -p $${KEHU_DATA_DIR:-var}
	$(BIN)/celery -A kehu beat --loglevel=INFO --schedule=$${KEHU_DATA_DIR:-var}/celerybeat-schedule

# Prints median/p95 of a few API endpoints (SQLite, Django test client); numbers are printed, never asserted.
bench: install-test
	DJANGO_SETTINGS_MODULE=kehu.settings.test $(BIN)/python benchmarks/bench_api.py $(BENCH_ARGS)

lint: install-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# Needs GNU gettext (apt-get install gettext); the compiled catalogues are committed.
messages: install
	cd src/kehu && ../../$(BIN)/kehu makemessages -l zh_Hans -l en --no-obsolete --no-location -i 'static/*' && ../../$(BIN)/kehu compilemessages

clean:
	rm -rf $(VENV) node_modules $(VENDOR) var
