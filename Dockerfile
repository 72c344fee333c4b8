# One image for every Liqo role: `liqo controller-manager`, `liqo virtual-kubelet`,
# `liqo gateway`, `liqo fabric`, ... (the command line picks the role).
#
#   docker build -t liqo .
#   docker build --build-arg EXTRA_PLUGINS="liqo-transport-ipsec==1.0" -t liqo:ipsec .
#
# PLUGINS lists the plugin distributions to install (pip requirement specifiers or paths in
# this tree); EXTRA_PLUGINS adds more, typically a third-party transport or module.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG PLUGINS="./plugins/liqo-network ./plugins/liqo-auth ./plugins/liqo-offloading ./plugins/liqo-transport-wireguard"
ARG EXTRA_PLUGINS=""
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHON=/opt/liqo/bin/python
RUN python -m venv /opt/liqo
WORKDIR /src
COPY pyproject.toml README.md ./
COPY liqo_core ./liqo_core
COPY plugins ./plugins
COPY docker/install-plugins.sh /usr/local/bin/install-plugins
RUN PLUGINS="${PLUGINS}" EXTRA_PLUGINS="${EXTRA_PLUGINS}" install-plugins /src

FROM ${PYTHON_IMAGE}
# Data-plane tools: links, routes and rules (iproute2, nftables), WireGuard in the kernel or
# in user space (wireguard-tools, wireguard-go). No recommends: wireguard-tools would pull a kernel.
RUN apt-get update \
    && apt-get install -y --no-install-recommends iproute2 nftables wireguard-tools wireguard-go \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 liqo \
    && useradd --system --uid 10001 --gid liqo --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin liqo
COPY --from=build /opt/liqo /opt/liqo
ENV PATH=/opt/liqo/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
ENTRYPOINT ["liqo"]
CMD ["--help"]
