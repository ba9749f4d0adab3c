#!/bin/sh
# Generates TypeScript types for the Envoy messages the injector uses, from the protos shipped in
# the registry package @grpc/grpc-js-xds (deps/). Output goes to src/generated/ (not committed).
set -eu
cd "$(dirname "$0")/.."
DEPS=node_modules/@grpc/grpc-js-xds/deps
OUT=src/generated
rm -rf "$OUT"
mkdir -p "$OUT"
node_modules/.bin/proto-loader-gen-types \
  --keepCase --longs=String --enums=String --oneofs \
  --includeComments=false \
  -I "$DEPS/envoy-api" -I "$DEPS/xds" -I "$DEPS/googleapis" -I "$DEPS/protoc-gen-validate" \
  --outDir "$OUT" --grpcLib @grpc/grpc-js --importFileExtension .js --inputTemplate '%s' --outputTemplate '%s__Output' \
  envoy/service/auth/v3/external_auth.proto envoy/service/ext_proc/v3/external_processor.proto >/dev/null
echo "generated $(find "$OUT" -name '*.ts' | wc -l) type files in $OUT"
