/*
 * labnet: the pinhole lab's port listener and prober (one small process each, no dependencies).
 *
 *   labnet listen --tcp 80,161,... --udp 22,123,... [--daemon] [--pidfile FILE]
 *       Binds every listed port on 0.0.0.0 and on [::] (an IPv6-only socket, IPV6_V6ONLY=1, besides the
 *       IPv4 one; a port already held in a family, e.g. by sshd or nginx, is skipped there with a note
 *       on stderr). A TCP client gets one line "labnet <peer-address> <port>\n" and the
 *       connection is closed; a UDP datagram is answered with the same line. The peer address in the
 *       line is the source the listener saw (after any NAT), which the lab's NAT test reads.
 *
 *   labnet probe [--tcp-timeout MS] [--udp-timeout MS] [--concurrency N]
 *       Reads "<id> <tcp|udp> <ipv4|ipv6> <port>" lines on stdin, probes them all concurrently (a UDP probe
 *       of 123, 161 or 162 is a real NTP or SNMP request, see udp_payload) and writes
 *       "<id> <outcome> <ms> <detail>" lines on stdout, where outcome is one of
 *         connected  TCP handshake completed             (open)
 *         reply      UDP datagram answered                (open)
 *         refused    TCP RST / ICMP port unreachable      (refused)
 *         timeout    no answer before the timeout         (filtered; the socket itself is looked at
 *                    when time is up, so a prober that ran late does not miss an answer the kernel had)
 *         unreach    ICMP host/net unreachable or admin-prohibited, local EPERM/EACCES (filtered)
 *         error      anything else (detail = errno name)
 *       Classification into open/refused/filtered happens in lab/probe-plan.ts.
 *
 *   labnet inotify N
 *       Prints how many inotify instances this user can still create (at most N): the booted tier checks that
 *       its nodes' systemd will get theirs (fs.inotify.max_user_instances is per user, machine-wide).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAXPORTS 256

static int parse_ports(const char *s, int *out, int max) {
    int n = 0;
    while (s && *s && n < max) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v <= 0 || v > 65535) { fprintf(stderr, "labnet: bad port list '%s'\n", s); exit(2); }
        out[n++] = (int)v;
        s = (*end == ',') ? end + 1 : end;
    }
    return n;
}

/* ------------------------------------------------------------------------------------------ listen */

struct lsock { int fd; int udp; int port; };

/* The peer's address as text (IPv4 dotted quad, IPv6 as inet_ntop writes it). */
static const char *peer_text(const struct sockaddr_storage *a, char *buf, size_t len) {
    if (a->ss_family == AF_INET6) return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, buf, (socklen_t)len);
    return inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, buf, (socklen_t)len);
}

static void daemonize(const char *pidfile) {
    pid_t p = fork();
    if (p < 0) { perror("fork"); exit(1); }
    if (p > 0) _exit(0);
    setsid();
    p = fork();
    if (p < 0) { perror("fork"); exit(1); }
    if (p > 0) _exit(0);
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) { dup2(nul, 0); dup2(nul, 1); if (nul > 2) close(nul); }
    if (pidfile) {
        FILE *f = fopen(pidfile, "w");
        if (f) { fprintf(f, "%d\n", (int)getpid()); fclose(f); }
    }
}

static int do_listen(int argc, char **argv) {
    int tcp[MAXPORTS], udp[MAXPORTS], ntcp = 0, nudp = 0, daemon = 0;
    const char *pidfile = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--tcp") && i + 1 < argc) ntcp = parse_ports(argv[++i], tcp, MAXPORTS);
        else if (!strcmp(argv[i], "--udp") && i + 1 < argc) nudp = parse_ports(argv[++i], udp, MAXPORTS);
        else if (!strcmp(argv[i], "--daemon")) daemon = 1;
        else if (!strcmp(argv[i], "--pidfile") && i + 1 < argc) pidfile = argv[++i];
        else { fprintf(stderr, "labnet listen: unknown argument %s\n", argv[i]); return 2; }
    }
    signal(SIGPIPE, SIG_IGN);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    static struct lsock socks[4 * MAXPORTS];
    int ns = 0, bound = 0;
    for (int k = 0; k < 2 * (ntcp + nudp); k++) {
        int j = k / 2, v6 = k % 2;
        int isudp = j >= ntcp, port = isudp ? udp[j - ntcp] : tcp[j];
        int fd = socket(v6 ? AF_INET6 : AF_INET, (isudp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            fprintf(stderr, "labnet: %d/%s%s not bound: %s\n", port, isudp ? "udp" : "tcp", v6 ? "6" : "", strerror(errno));
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        int r;
        if (v6) {
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
            struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_ANY_INIT };
            r = bind(fd, (struct sockaddr *)&a, sizeof a);
        } else {
            struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
            r = bind(fd, (struct sockaddr *)&a, sizeof a);
        }
        if (r < 0 || (!isudp && listen(fd, 1024) < 0)) {
            fprintf(stderr, "labnet: %d/%s%s not bound: %s\n", port, isudp ? "udp" : "tcp", v6 ? "6" : "", strerror(errno));
            close(fd);
            continue;
        }
        socks[ns] = (struct lsock){ fd, isudp, port };
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)ns };
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        ns++; bound++;
    }
    fprintf(stderr, "labnet: listening on %d sockets\n", bound);
    if (daemon) daemonize(pidfile);
    else if (pidfile) { FILE *f = fopen(pidfile, "w"); if (f) { fprintf(f, "%d\n", (int)getpid()); fclose(f); } }

    struct epoll_event evs[64];
    char buf[2048], line[128], host[INET6_ADDRSTRLEN];
    for (;;) {
        int n = epoll_wait(ep, evs, 64, -1);
        if (n < 0) { if (errno == EINTR) continue; perror("epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) {
            struct lsock *s = &socks[evs[i].data.u32];
            struct sockaddr_storage peer; socklen_t pl = sizeof peer;
            if (s->udp) {
                for (;;) {
                    pl = sizeof peer;
                    ssize_t r = recvfrom(s->fd, buf, sizeof buf, 0, (struct sockaddr *)&peer, &pl);
                    if (r < 0) break;
                    int len = snprintf(line, sizeof line, "labnet %s %d\n", peer_text(&peer, host, sizeof host), s->port);
                    sendto(s->fd, line, (size_t)len, 0, (struct sockaddr *)&peer, pl);
                }
            } else {
                for (;;) {
                    pl = sizeof peer;
                    int c = accept4(s->fd, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0) break;
                    int len = snprintf(line, sizeof line, "labnet %s %d\n", peer_text(&peer, host, sizeof host), s->port);
                    ssize_t w = write(c, line, (size_t)len);
                    (void)w;
                    shutdown(c, SHUT_WR);
                    close(c);
                }
            }
        }
    }
}

/* ------------------------------------------------------------------------------------------- probe */

struct probe {
    char id[32];
    int udp;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int fd;
    double start;
    int done;
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static const char *outcome_for_errno(int e) {
    switch (e) {
    case ECONNREFUSED: return "refused";
    case EHOSTUNREACH: case ENETUNREACH: case EPERM: case EACCES: return "unreach";
    case ETIMEDOUT: return "timeout";
    default: return "error";
    }
}

static void finish(struct probe *p, int ep, const char *outcome, int err) {
    if (p->done) return;
    p->done = 1;
    if (p->fd >= 0) { epoll_ctl(ep, EPOLL_CTL_DEL, p->fd, NULL); close(p->fd); p->fd = -1; }
    printf("%s %s %.1f %s\n", p->id, outcome, now_ms() - p->start, err ? strerrorname_np(err) : "-");
}

/*
 * A UDP probe's datagram: a real request where a lab service may answer instead of the listener (with
 * `up --services`), anything else for the listener's echo (which answers every datagram alike):
 *   123  an NTP client request (mode 3, version 4) that chronyd answers
 *   161  an SNMPv2c get of sysUpTime.0, community "public", that snmpd answers
 *   162  an SNMPv2c inform (coldStart), community "public", that snmptrapd acknowledges (and logs)
 */
static const unsigned char SNMP_GET[] = {
    0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, 'p', 'u', 'b', 'l', 'i', 'c',
    0xa0, 0x19, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00,
    0x30, 0x0e, 0x30, 0x0c, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00, 0x05, 0x00,
};
static const unsigned char SNMP_INFORM[] = {
    0x30, 0x40, 0x02, 0x01, 0x01, 0x04, 0x06, 'p', 'u', 'b', 'l', 'i', 'c',
    0xa6, 0x33, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00,
    0x30, 0x28,
    0x30, 0x0d, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00, 0x43, 0x01, 0x00,
    0x30, 0x17, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x06, 0x03, 0x01, 0x01, 0x04, 0x01, 0x00,
    0x06, 0x09, 0x2b, 0x06, 0x01, 0x06, 0x03, 0x01, 0x01, 0x05, 0x01,
};

static const void *udp_payload(const struct probe *p, size_t *len) {
    static unsigned char ntp[48];
    int port = ntohs(p->addr.ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)&p->addr)->sin6_port
                                                  : ((const struct sockaddr_in *)&p->addr)->sin_port);
    switch (port) {
    case 123:
        ntp[0] = 0x23;                                 /* LI 0, version 4, mode 3 (client) */
        memset(ntp + 40, 0x5a, 8);                     /* a non-zero transmit timestamp */
        *len = sizeof ntp;
        return ntp;
    case 161: *len = sizeof SNMP_GET; return SNMP_GET;
    case 162: *len = sizeof SNMP_INFORM; return SNMP_INFORM;
    default: *len = 6; return "probe\n";
    }
}

static void start(struct probe *p, int ep, int idx) {
    p->start = now_ms();
    p->fd = socket(p->addr.ss_family, (p->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0) { finish(p, ep, "error", errno); return; }
    int r = connect(p->fd, (struct sockaddr *)&p->addr, p->addrlen);
    if (r < 0 && errno != EINPROGRESS) { int e = errno; finish(p, ep, outcome_for_errno(e), e); return; }
    if (p->udp) {
        size_t len;
        const void *payload = udp_payload(p, &len);
        if (send(p->fd, payload, len, 0) < 0) { int e = errno; finish(p, ep, outcome_for_errno(e), e); return; }
    } else if (r == 0) { finish(p, ep, "connected", 0); return; }
    struct epoll_event ev = { .events = p->udp ? EPOLLIN : EPOLLOUT, .data.u32 = (uint32_t)idx };
    epoll_ctl(ep, EPOLL_CTL_ADD, p->fd, &ev);
}

/* A probe whose socket is ready: connected, refused, answered. 0 when there was nothing to read after all (UDP). */
static int complete(struct probe *p, int ep) {
    if (p->udp) {
        char buf[512];
        ssize_t r = recv(p->fd, buf, sizeof buf, 0);
        if (r >= 0) finish(p, ep, "reply", 0);
        else if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        else { int e = errno; finish(p, ep, outcome_for_errno(e), e); }
    } else {
        int err = 0; socklen_t l = sizeof err;
        getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err == 0) finish(p, ep, "connected", 0);
        else finish(p, ep, outcome_for_errno(err), err);
    }
    return 1;
}

/*
 * Is the probe's answer already there? When its time is up the prober looks at the socket itself before calling it
 * a timeout: on a loaded machine the prober may not have run (or not yet read its events) while the kernel
 * completed the handshake or received the reply in time.
 */
static int ready(const struct probe *p) {
    struct pollfd pf = { .fd = p->fd, .events = p->udp ? POLLIN : POLLOUT };
    return poll(&pf, 1, 0) == 1;
}

static int do_probe(int argc, char **argv) {
    double tcp_to = 700, udp_to = 1000;
    int conc = 256;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--tcp-timeout") && i + 1 < argc) tcp_to = atof(argv[++i]);
        else if (!strcmp(argv[i], "--udp-timeout") && i + 1 < argc) udp_to = atof(argv[++i]);
        else if (!strcmp(argv[i], "--concurrency") && i + 1 < argc) conc = atoi(argv[++i]);
        else { fprintf(stderr, "labnet probe: unknown argument %s\n", argv[i]); return 2; }
    }
    if (conc < 1) conc = 1;
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    size_t cap = 1024, np = 0;
    struct probe *ps = calloc(cap, sizeof *ps);
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        char id[32], proto[8], ip[64]; int port;
        if (sscanf(line, "%31s %7s %63s %d", id, proto, ip, &port) != 4) continue;
        if (np == cap) { cap *= 2; ps = realloc(ps, cap * sizeof *ps); }
        struct probe *p = &ps[np];
        memset(p, 0, sizeof *p);
        strcpy(p->id, id);
        p->udp = !strcmp(proto, "udp");
        p->fd = -1;
        struct sockaddr_in *a4 = (struct sockaddr_in *)&p->addr;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&p->addr;
        if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
            a4->sin_family = AF_INET;
            a4->sin_port = htons((uint16_t)port);
            p->addrlen = sizeof *a4;
        } else if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
            a6->sin6_family = AF_INET6;
            a6->sin6_port = htons((uint16_t)port);
            p->addrlen = sizeof *a6;
        } else { p->start = now_ms(); finish(p, -1, "error", EINVAL); np++; continue; }
        np++;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    size_t next = 0, active = 0, finished = 0;
    for (size_t i = 0; i < np; i++) if (ps[i].done) finished++;
    struct epoll_event evs[128];
    while (finished < np) {
        while (active < (size_t)conc && next < np) {
            struct probe *p = &ps[next];
            if (!p->done) { start(p, ep, (int)next); if (p->done) finished++; else active++; }
            next++;
        }
        double t = now_ms(), wait = 1000;
        for (size_t i = 0; i < next; i++) {
            struct probe *p = &ps[i];
            if (p->done || p->fd < 0) continue;
            double left = p->start + (p->udp ? udp_to : tcp_to) - t;
            if (left <= 0) {
                if (!(ready(p) && complete(p, ep))) finish(p, ep, "timeout", 0);
                finished++; active--; continue;
            }
            if (left < wait) wait = left;
        }
        if (finished >= np) break;
        if (active == 0) continue;
        int n = epoll_wait(ep, evs, 128, (int)wait + 1);
        for (int k = 0; k < n; k++) {
            struct probe *p = &ps[evs[k].data.u32];
            if (p->done) continue;
            if (!complete(p, ep)) continue;
            finished++; active--;
        }
    }
    fflush(stdout);
    return 0;
}

static int do_inotify(int argc, char **argv) {
    int want = argc >= 3 ? atoi(argv[2]) : 128, got = 0;
    if (want < 1 || want > 65536) { fprintf(stderr, "labnet inotify: N must be 1..65536\n"); return 2; }
    int *fds = calloc((size_t)want, sizeof(int));
    if (!fds) return 1;
    while (got < want) {
        int fd = inotify_init1(IN_CLOEXEC);
        if (fd < 0) break;
        fds[got++] = fd;
    }
    printf("%d\n", got);
    for (int i = 0; i < got; i++) close(fds[i]);
    free(fds);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "listen")) return do_listen(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "probe")) return do_probe(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "inotify")) return do_inotify(argc, argv);
    fprintf(stderr, "usage: labnet listen --tcp P,... --udp P,... [--daemon] [--pidfile F]\n"
                    "       labnet probe [--tcp-timeout MS] [--udp-timeout MS] [--concurrency N] < targets\n"
                    "       labnet inotify N\n");
    return 2;
}
