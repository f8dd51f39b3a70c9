// libpq, PostgreSQL's C client library (Debian: libpq-dev, which puts the header under postgresql/).
#include <postgresql/libpq-fe.h>
