# Causeway's container image, built FROM scratch because this project's
# machines pull no images. Assemble target/image first: scripts/image.sh
# does that and then runs `docker build -t causeway .`.
FROM scratch
COPY target/image/rootfs/ /
COPY --chown=7474:7474 target/image/data/ /data/
USER 7474:7474
# Listen on every interface inside the container; advertised addresses
# default to the container's host name (see docs/configuration.md).
ENV CAUSEWAY_DATA_DIR=/data \
    CAUSEWAY_BOLT_LISTEN=0.0.0.0:7687 \
    CAUSEWAY_HTTP_LISTEN=0.0.0.0:7474 \
    CAUSEWAY_CLUSTER_LISTEN=0.0.0.0:6000
VOLUME /data
EXPOSE 7687 7474 6000
HEALTHCHECK --interval=5s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/causeway", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/causeway"]
CMD ["serve"]
