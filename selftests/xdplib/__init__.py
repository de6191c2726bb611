"""Helpers for XDP selftests run as root inside a test guest.

Modules:
    bpfobj       load compiled BPF objects with libbpf (ctypes)
    bpflink      XDP bpf_links with flags: bpf_link_create/bpf_link_update, and
                 extension (freplace) links (ctypes)
    fdinfo       /proc/self/fdinfo of program and map fds
    bond         bonding devices: create, enslave
    netns        network namespaces, veth pairs, running code inside a netns
    topology     the small veth topologies the tests use
    xdp_attach   attach/detach/query XDP programs over rtnetlink
    netdev_genl  the "netdev" generic-netlink family (xdp_features)
    traffic      send marked frames, capture and match them per packet
    tracefs      record tracepoint events in a private tracefs instance
    netdevsim    create/delete netdevsim devices
    nics         find interfaces by driver; borrow the guest's looped virtio NICs
    xdp_stats    the netdev family's xdp-stats-get/-set, per-device XDP counters
    xdp_stats_child  xdp-stats requests from a less privileged child process
    caps         drop capabilities, become nobody, enter a user namespace (children)
    poll         wait for the kernel by polling a reading until it settles
"""
