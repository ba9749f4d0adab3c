# pai-secrets. `make run` and `make test` work on a fresh clone (they install what they need).
SHELL := /bin/sh
NPM_STAMP := node_modules/.install-stamp

.PHONY: run test build deps typecheck lint unit bench soak clean format

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NPM_STAMP)

deps: $(NPM_STAMP)

build: deps
	npm run --silent build

run: build
	./bin/pai.js serve

typecheck: deps
	npm run --silent gen
	npx tsc -p tsconfig.json --noEmit

lint: deps
	npx eslint .
	npx prettier --check .

unit: build
	npx ava

# Typecheck, lint and the whole ava suite (the CLI tests run the built binary).
test: build typecheck lint unit

bench: build
	sh bench/run.sh

soak: build
	PAI_SOAK=1 npx ava test/soak/*.test.ts

format: deps
	npx prettier --write .

clean:
	rm -rf dist src/generated node_modules
