// Peer credentials of Unix sockets for Node, which has no API for them (DESIGN §10): the
// connecting process's pid/uid/gid (SO_PEERCRED) and a pidfd on it (SO_PEERPIDFD, else
// pidfd_open), so a later check can tell whether that very process still runs (no pid reuse).
// Failures throw an Error with a numeric `errno`; the TypeScript loader names it.
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5; the asm-generic value, as on x86 and arm */
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* Linux 5.3, the same number on every architecture */
#endif

static napi_value fail(napi_env env, const char* what, int err) {
  char text[160];
  napi_value msg, error, code;
  snprintf(text, sizeof text, "%s: %s", what, strerror(err));
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_int32(env, err, &code);
  napi_set_named_property(env, error, "errno", code);
  napi_throw(env, error);
  return NULL;
}

static int int_arg(napi_env env, napi_callback_info info, int32_t* out) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], out) != napi_ok || *out < 0) {
    napi_throw_type_error(env, NULL, "expected a non-negative integer");
    return 0;
  }
  return 1;
}

static napi_value int_value(napi_env env, int32_t n) {
  napi_value v;
  napi_create_int32(env, n, &v);
  return v;
}

// getPeerCred(fd) -> { pid, uid, gid } as recorded by the kernel at connect().
static napi_value get_peer_cred(napi_env env, napi_callback_info info) {
  int32_t fd;
  struct ucred cred;
  socklen_t len = sizeof cred;
  napi_value result;
  if (!int_arg(env, info, &fd)) return NULL;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return fail(env, "SO_PEERCRED", errno);
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "pid", int_value(env, cred.pid));
  napi_set_named_property(env, result, "uid", int_value(env, (int32_t)cred.uid));
  napi_set_named_property(env, result, "gid", int_value(env, (int32_t)cred.gid));
  return result;
}

// peerPidfd(fd) -> a pidfd on the connecting process itself (no window for pid reuse).
static napi_value peer_pidfd(napi_env env, napi_callback_info info) {
  int32_t fd, pidfd;
  socklen_t len = sizeof pidfd;
  if (!int_arg(env, info, &fd)) return NULL;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) != 0) return fail(env, "SO_PEERPIDFD", errno);
  return int_value(env, pidfd);
}

// pidfdOpen(pid) -> a pidfd (close-on-exec) on the process that has this pid now.
static napi_value pidfd_open_(napi_env env, napi_callback_info info) {
  int32_t pid;
  if (!int_arg(env, info, &pid)) return NULL;
  long pidfd = syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (pidfd < 0) return fail(env, "pidfd_open", errno);
  return int_value(env, (int32_t)pidfd);
}

// pidfdIsAlive(pidfd) -> false once the process has exited (a pidfd polls readable then).
static napi_value pidfd_is_alive(napi_env env, napi_callback_info info) {
  int32_t fd;
  napi_value result;
  if (!int_arg(env, info, &fd)) return NULL;
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int n;
  do n = poll(&p, 1, 0); while (n < 0 && errno == EINTR);
  if (n < 0) return fail(env, "poll(pidfd)", errno);
  if (p.revents & POLLNVAL) return fail(env, "poll(pidfd)", EBADF);
  napi_get_boolean(env, n == 0, &result);
  return result;
}

// closeFd(fd): closes a descriptor this addon returned.
static napi_value close_fd(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!int_arg(env, info, &fd)) return NULL;
  if (close(fd) != 0 && errno != EINTR) return fail(env, "close", errno);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"getPeerCred", NULL, get_peer_cred, NULL, NULL, NULL, napi_enumerable, NULL},
      {"peerPidfd", NULL, peer_pidfd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdOpen", NULL, pidfd_open_, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdIsAlive", NULL, pidfd_is_alive, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
