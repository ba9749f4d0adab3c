# pai-secrets. `make run` and `make test` work on a fresh clone (they install what they need).
SHELL := /bin/sh
NPM_STAMP := node_modules/.install-stamp
# TypeScript types of the Envoy messages the injector uses (ext_authz, ext_proc, SDS and the Secret it
# serves), generated from the protos shipped in the registry package @grpc/grpc-js-xds (its deps/
# folders) by @grpc/proto-loader's generator. The loader options in src/injector/protos.ts must match
# these flags. Not committed.
PROTO_DEPS := node_modules/@grpc/grpc-js-xds/deps
GEN_STAMP := src/generated/.stamp

.PHONY: run test build deps gen typecheck lint unit bench soak clean format envoy-examples

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NPM_STAMP)

deps: $(NPM_STAMP)

# The Makefile is a prerequisite: a proto added to the list below is generated on the next build.
$(GEN_STAMP): $(NPM_STAMP) Makefile
	rm -rf src/generated
	mkdir -p src/generated
	node_modules/.bin/proto-loader-gen-types \
	  --keepCase --longs=String --enums=String --oneofs --includeComments=false \
	  -I $(PROTO_DEPS)/envoy-api -I $(PROTO_DEPS)/xds -I $(PROTO_DEPS)/googleapis -I $(PROTO_DEPS)/protoc-gen-validate \
	  --outDir src/generated --grpcLib @grpc/grpc-js --importFileExtension .js \
	  --inputTemplate '%s' --outputTemplate '%s__Output' \
	  envoy/service/auth/v3/external_auth.proto envoy/service/ext_proc/v3/external_processor.proto \
	  envoy/service/secret/v3/sds.proto envoy/extensions/transport_sockets/tls/v3/secret.proto >/dev/null
	touch $(GEN_STAMP)

gen: $(GEN_STAMP)

build: $(GEN_STAMP)
	npx tsc -p tsconfig.build.json

run: build
	./bin/pai.js serve

typecheck: $(GEN_STAMP)
	npx tsc -p tsconfig.json --noEmit

lint: $(GEN_STAMP)
	npx eslint .
	npx prettier --check .

# AVA_FLAGS: e.g. --tap (what .ci/run uses, to count passes and failures itself).
unit: build
	npx ava $(AVA_FLAGS)

# Typecheck, lint and the whole ava suite (the CLI tests run the built binary).
test: build typecheck lint unit

bench: build
	sh bench/run.sh

soak: build
	PAI_SOAK=1 npx ava test/soak/*.test.ts

# envoy/sidecar-*.yaml are `pai render sidecar` output for the fixtures in scripts/envoy-examples.ts.
envoy-examples: $(GEN_STAMP)
	npx tsx scripts/render-envoy-examples.ts

format: deps
	npx prettier --write .

clean:
	rm -rf dist src/generated node_modules
