// sdNotify(state): one sd_notify datagram to $NOTIFY_SOCKET (systemd's readiness and watchdog
// protocol), without libsystemd. Returns false when there is no socket to tell; throws when it
// cannot be reached.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "binding.h"

namespace earshot {
namespace addon {
namespace {

Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throw_type(env, "sdNotify: expected a state string such as \"READY=1\"");
  std::string state = info[0].As<Napi::String>().Utf8Value();
  const char* sock = std::getenv("NOTIFY_SOCKET");
  if (!sock || !*sock) return Napi::Boolean::New(env, false);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t len = std::strlen(sock);
  if (len >= sizeof(addr.sun_path)) throw Napi::Error::New(env, "sdNotify: NOTIFY_SOCKET is too long");
  if (sock[0] != '/' && sock[0] != '@')
    throw Napi::Error::New(env, std::string("sdNotify: NOTIFY_SOCKET must be a path or @abstract name, got ") + sock);
  std::memcpy(addr.sun_path, sock, len);
  if (sock[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  socklen_t alen = socklen_t(offsetof(sockaddr_un, sun_path) + len + (sock[0] == '@' ? 0 : 1));
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw Napi::Error::New(env, std::string("sdNotify: socket: ") + std::strerror(errno));
  ssize_t n = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), alen);
  int err = errno;
  close(fd);
  if (n < 0) throw Napi::Error::New(env, std::string("sdNotify: cannot send to ") + sock + ": " + std::strerror(err));
  return Napi::Boolean::New(env, true);
}

}  // namespace

void init_sd_notify(Napi::Env env, Napi::Object exports) {
  exports.Set("sdNotify", Napi::Function::New(env, SdNotify));
}

}  // namespace addon
}  // namespace earshot
