#!/bin/sh
# tests/emulator/gen_test_certs.sh DIR — a throw-away test CA and a server certificate for
# 127.0.0.1 / localhost, made with Debian's openssl. Writes DIR/ca.pem, DIR/server.pem,
# DIR/server.key (and the CA key). Never use these outside tests.
set -eu
dir=${1:?usage: gen_test_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=source-vitess test CA" \
  -keyout ca.key -out ca.pem >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
  -keyout server.key -out server.csr >/dev/null 2>&1
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
  -extfile server.ext -out server.pem >/dev/null 2>&1
rm -f server.csr server.ext ca.srl
