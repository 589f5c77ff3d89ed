// Host names and addresses as the servers' flags and HTTP headers give them.
//
// Thread-safety: free functions on values.
#pragma once

#include <string>
#include <string_view>

namespace mint {

// True for names that only this machine reaches: "localhost" and "*.localhost", 127.0.0.0/8 and
// ::1 (IPv4-mapped ::ffff:127.x too). Case-insensitive; brackets around IPv6 are accepted.
bool IsLoopbackHost(std::string_view host);

// This machine's host name (gethostname); "host" if it has none.
std::string HostName();

}  // namespace mint
