// SPDX-License-Identifier: MIT
// Kernel constants the data plane uses that older userspace headers may lack.
// The kernel itself is probed at start (data/workers.cc); these only let the
// code name what it asks for.
#pragma once
#include <linux/if_tun.h>
#include <netinet/udp.h>

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103   // Linux 4.18: UDP GSO
#endif
#ifndef UDP_GRO
#define UDP_GRO 104       // Linux 5.0: UDP GRO
#endif
// Linux >= 6.2; Debian 12's headers (6.1) lack them.
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif
