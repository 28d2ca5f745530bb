/*
 * tools_guard — which addresses http_fetch may reach (the SSRF guard).
 *
 * A model can be talked into fetching anything a prompt names, including
 * the cloud metadata service (169.254.169.254), the database next door or
 * loom's own admin routes. So by default only public unicast addresses are
 * allowed. IPv4-mapped and IPv4-compatible IPv6 addresses are judged by
 * their IPv4 part, as the kernel would route them.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "agents/tools.h"

static bool v4_public(uint32_t a) {
  uint8_t b0 = (uint8_t)(a >> 24), b1 = (uint8_t)(a >> 16);
  if (b0 == 0 || b0 == 10 || b0 == 127)
    return false; /* this net, private, loopback */
  if (b0 == 169 && b1 == 254)
    return false; /* link-local, metadata */
  if (b0 == 172 && (b1 & 0xF0) == 16)
    return false; /* 172.16/12 */
  if (b0 == 192 && b1 == 168)
    return false; /* 192.168/16 */
  if (b0 == 100 && (b1 & 0xC0) == 64)
    return false; /* 100.64/10 carrier NAT */
  if (b0 == 192 && b1 == 0 && (uint8_t)(a >> 8) == 0)
    return false; /* 192.0.0/24 IETF */
  if (b0 == 198 && (b1 & 0xFE) == 18)
    return false; /* 198.18/15 benchmarking */
  if (b0 >= 224)
    return false; /* multicast, reserved, broadcast */
  return true;
}

bool loom_tools_address_is_public(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    return v4_public(ntohl(in->sin_addr.s_addr));
  }
  if (sa->sa_family != AF_INET6)
    return false;
  const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
  static const uint8_t zero[12] = {0};
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (memcmp(b, mapped, 12) == 0 || memcmp(b, zero, 12) == 0) {
    uint32_t v4 = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
                  (uint32_t)b[14] << 8 | b[15];
    return v4_public(v4); /* also rejects :: and ::1 (0.0.0.0, 0.0.0.1) */
  }
  if ((b[0] & 0xFE) == 0xFC)
    return false; /* fc00::/7 unique local */
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80)
    return false; /* fe80::/10 link-local */
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0)
    return false; /* fec0::/10 site-local (deprecated) */
  if (b[0] == 0xFF)
    return false; /* multicast */
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B)
    return false; /* 64:ff9b::/96 NAT64 can reach private IPv4 */
  return true;
}
