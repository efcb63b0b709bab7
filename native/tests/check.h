// Minimal checks for the native test programs: count, print failures, one summary line, exit code.
#pragma once
#include <cstdio>
#include <string>

namespace check {

inline int& passed() {
  static int n = 0;
  return n;
}
inline int& failed() {
  static int n = 0;
  return n;
}

inline void report(bool ok, const char* file, int line, const std::string& what) {
  if (ok) {
    ++passed();
  } else {
    ++failed();
    if (failed() <= 50) std::fprintf(stderr, "FAIL %s:%d: %s\n", file, line, what.c_str());
  }
}

// Prints "<program>: N checks passed, M failed" and returns the process exit code.
inline int summary(const char* program) {
  std::printf("%s: %d checks passed, %d failed\n", program, passed(), failed());
  return failed() ? 1 : 0;
}

}  // namespace check

#define CHECK(cond) ::check::report(bool(cond), __FILE__, __LINE__, #cond)
// printf-style message, formatted only on failure.
#define CHECKF(cond, ...)                                                                     \
  do {                                                                                        \
    const bool checkf_ok_ = bool(cond);                                                       \
    char checkf_msg_[512] = "";                                                               \
    if (!checkf_ok_) std::snprintf(checkf_msg_, sizeof checkf_msg_, __VA_ARGS__);             \
    ::check::report(checkf_ok_, __FILE__, __LINE__, std::string(#cond) + ": " + checkf_msg_); \
  } while (0)
#define CHECK_MSG(cond, msg) ::check::report(bool(cond), __FILE__, __LINE__, std::string(#cond) + ": " + (msg))
// Runs stmt and checks that it throws earshot::Error whose message contains `needle`.
#define CHECK_THROWS(stmt, needle)                                                                   \
  do {                                                                                               \
    std::string check_msg_;                                                                          \
    bool check_threw_ = false;                                                                       \
    try {                                                                                            \
      stmt;                                                                                          \
    } catch (const earshot::Error& e) {                                                              \
      check_threw_ = true;                                                                           \
      check_msg_ = e.what();                                                                         \
    }                                                                                                \
    ::check::report(check_threw_&& check_msg_.find(needle) != std::string::npos, __FILE__, __LINE__, \
                    std::string(#stmt) + " should throw Error containing '" + (needle) + "', got " + \
                        (check_threw_ ? "'" + check_msg_ + "'" : std::string("no exception")));      \
  } while (0)
