"""The ``virtual-kubelet`` role (``liqo virtual-kubelet``): one process per VirtualNode.

- :mod:`.options`: the upstream flags, parsed;
- :mod:`.node`: the virtual Node and its Lease (upstream's node provider);
- :mod:`.remote`: the provider's API server, from the kubeconfig Secret;
- :mod:`.reflection`: the reflection framework and one module per reflected kind;
- :mod:`.role`: the :class:`~liqo_core.Component` tying them together.
"""
