// libcrypto from OpenSSL (libssl-dev): SHA-256 of API key secrets and their constant-time comparison.
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
