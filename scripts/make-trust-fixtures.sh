#!/usr/bin/env bash
# Makes the certificate chains of src/trust/testdata/ (the unit tests of src/trust/) with
# openssl: one private root, intermediates and leaves, each a PEM file holding a chain as a
# server would send it (leaf first) or a root to trust. Keys are thrown away. The tests
# read each certificate's dates, so the fixtures stay valid however old they are.
#
#   bash scripts/make-trust-fixtures.sh [OUTDIR]   (default: src/trust/testdata)
set -euo pipefail

out=$(realpath -m "${1:-"$(dirname "$0")/../src/trust/testdata"}")
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }

# ca NAME SUBJECT ISSUER DAYS EXTRA_EXTENSIONS: a CA certificate NAME.pem signed by ISSUER
# (ISSUER "self" makes a root).
ca() {
    local name=$1 subj=$2 issuer=$3 days=$4 ext=${5:-}
    key "$name"
    printf 'basicConstraints=critical,CA:TRUE%s\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n%s\n' \
        "${PATHLEN:-}" "$ext" >"$name.ext"
    openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr"
    if [ "$issuer" = self ]; then
        openssl x509 -req -in "$name.csr" -signkey "$name.key" -days "$days" -extfile "$name.ext" -out "$name.pem" 2>/dev/null
    else
        openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" -CAcreateserial \
            -days "$days" -extfile "$name.ext" -out "$name.pem" 2>/dev/null
    fi
}

# leaf NAME DNS ISSUER DAYS [EXTRA]: a server certificate for DNS signed by ISSUER.
leaf() {
    local name=$1 dns=$2 issuer=$3 days=$4 extra=${5:-}
    key "$name"
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s\nauthorityInfoAccess=caIssuers;URI:http://pki.test/%s.crt\n%s\n' \
        "$dns" "$issuer" "$extra" >"$name.ext"
    openssl req -new -key "$name.key" -subj "/CN=$dns" -out "$name.csr"
    openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" -CAcreateserial \
        -days "$days" -extfile "$name.ext" -out "$name.pem" 2>/dev/null
}

ca root "/O=tlstriage test/CN=Test Root" self 3650
ca int "/O=tlstriage test/CN=Test Intermediate" root 1825
leaf leaf www.example.test int 365
# An intermediate that expires long before the leaf (the tests look at a moment between).
ca int_short "/O=tlstriage test/CN=Test Short Intermediate" root 30
leaf leaf_short short.example.test int_short 365
# The same name as "int" with another key: the leaf's signature does not verify.
ca int_impostor "/O=tlstriage test/CN=Test Intermediate" root 1825
leaf leaf_impostor www.example.test int_impostor 365
# pathlen:0 on the first intermediate, a second one below it.
PATHLEN=",pathlen:0" ca int_pl0 "/O=tlstriage test/CN=Test Pathlen0 Intermediate" root 1825
ca int_below "/O=tlstriage test/CN=Test Below Intermediate" int_pl0 1825
leaf leaf_pathlen deep.example.test int_below 365
# Name constraints that the leaf's name breaks.
ca int_nc "/O=tlstriage test/CN=Test Constrained Intermediate" root 1825 "nameConstraints=critical,permitted;DNS:.allowed.test"
leaf leaf_nc www.example.test int_nc 365
# A leaf used as a CA: an end-entity certificate that signed another.
key ee_ca
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyCertSign\n' >ee_ca.ext
openssl req -new -key ee_ca.key -subj "/O=tlstriage test/CN=Test Not A CA" -out ee_ca.csr
openssl x509 -req -in ee_ca.csr -CA int.pem -CAkey int.key -CAcreateserial -days 1825 -extfile ee_ca.ext -out ee_ca.pem 2>/dev/null
leaf leaf_by_ee www.example.test ee_ca 365
# An X.509 v1 leaf (no extensions at all: what `openssl x509 -req` makes without -extfile).
key v1leaf
openssl req -new -key v1leaf.key -subj "/CN=v1.example.test" -out v1leaf.csr
openssl x509 -req -in v1leaf.csr -CA int.pem -CAkey int.key -CAcreateserial -days 365 -out v1leaf.pem 2>/dev/null
# A self-signed server certificate.
key selfsigned
openssl req -new -x509 -key selfsigned.key -subj "/CN=self.example.test" -days 365 -addext "subjectAltName=DNS:self.example.test" -out selfsigned.pem

cat root.pem >"$out/root.pem"
cat leaf.pem int.pem >"$out/complete.pem"
cat leaf.pem int.pem root.pem >"$out/complete-with-root.pem"
cat leaf.pem >"$out/leaf-only.pem"
cat leaf.pem root.pem int.pem >"$out/wrong-order.pem"
cat int.pem leaf.pem >"$out/leaf-not-first.pem"
cat leaf.pem int.pem int.pem >"$out/duplicate.pem"
cat leaf_short.pem int_short.pem >"$out/expired-intermediate.pem"
cat leaf_impostor.pem int.pem >"$out/bad-signature.pem"
cat leaf_pathlen.pem int_below.pem int_pl0.pem >"$out/path-len.pem"
cat leaf_nc.pem int_nc.pem >"$out/name-constraints.pem"
cat leaf_by_ee.pem ee_ca.pem int.pem >"$out/not-a-ca.pem"
cat selfsigned.pem >"$out/self-signed.pem"
cat v1leaf.pem int.pem >"$out/v1-leaf.pem"
echo "wrote $(ls "$out" | wc -l) files to $out"
