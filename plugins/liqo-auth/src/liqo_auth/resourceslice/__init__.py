"""ResourceSlice negotiation: the consumer asks, the provider authenticates and grants.

- :mod:`~liqo_auth.resourceslice.local` (consumer, ``resourceslice_local``): fills in the
  cluster ids and the slice's CSR;
- :mod:`~liqo_auth.resourceslice.remote` (provider, ``resourceslice_remote``): checks the
  replicated slice against the consumer's Tenant, issues the slice's credential (renewed at
  2/3 of its lifetime) and grants resources according to the tenant condition and class;
- :mod:`~liqo_auth.resourceslice.quota` (provider, ``quotacreator``): one Quota per granted
  slice;
- :mod:`~liqo_auth.resourceslice.identity_creator` (consumer, ``identity_creator``): the
  ``resourceslice-<slice>`` Identity carrying the slice's credential.
"""
