# Odoo 18 as Smart Dairy runs it: the official image plus OCA queue_job, the three Smart Dairy addons
# and the bridge they import, all installed by pip as packages (into site-packages/odoo/addons), the
# way README › "Install into an existing Odoo 18" does. Nothing goes into /mnt/extra-addons: the base
# image declares it a volume, and a volume keeps the code of the first start across rebuilds.
FROM odoo:18
USER root
WORKDIR /tmp/smart-dairy
COPY pyproject.toml README.md LICENSE constraints.txt ./
COPY celery_bridge ./celery_bridge
COPY addons ./addons
# As root, pip sees the Odoo of the base image (a Debian package) as the `odoo` distribution the
# addons' wheels require. Debian's pip leaves the image's own Python packages in place and installs
# the bridge's newer pins beside them (/usr/local, first on sys.path).
RUN pip3 install --no-cache-dir --break-system-packages -c constraints.txt \
        ./addons/smart_dairy_jobs ./addons/smart_dairy_iot ./addons/smart_dairy_operations . \
    && python3 -c "import odoo.addons.queue_job, odoo.addons.smart_dairy_jobs.cli, celery_bridge.core.config" \
    && rm -rf /tmp/smart-dairy
WORKDIR /
COPY deploy/odoo/entrypoint.sh /usr/local/bin/smart-dairy-odoo-entrypoint
# The configuration the entrypoint writes at every start (it holds secrets: Odoo's user alone reads
# it). smart-dairy-secrets (the same gid in the worker image) may read the bridge's key that
# `odoo sdj_bridge_key --group smart-dairy-secrets` writes into /run/smart-dairy (a shared volume).
RUN chmod 0755 /usr/local/bin/smart-dairy-odoo-entrypoint \
    && install -d -o odoo -g odoo -m 0700 /etc/odoo/smart-dairy \
    && groupadd --gid 10101 smart-dairy-secrets && usermod -aG smart-dairy-secrets odoo \
    && install -d -o root -g smart-dairy-secrets -m 2770 /run/smart-dairy
ENV ODOO_RC=/etc/odoo/smart-dairy/odoo.conf
USER odoo
EXPOSE 8069 8072
ENTRYPOINT ["smart-dairy-odoo-entrypoint"]
CMD ["odoo"]
