// Linux's epoll and eventfd, which Swift's Glibc module does not import: the event loops wait in epoll_wait on
// their sockets and are woken through an eventfd when other threads hand them work.
#include <sys/epoll.h>
#include <sys/eventfd.h>
