#!/usr/bin/env bash
# Samba's Active Directory DC and the MIT Kerberos client tools for the
# Kerberos tests (tests/ad_kerberos.rs, tests/support/samba_dc.rs): samba
# (the `samba` AD DC binary), samba-dsdb-modules and samba-vfs-modules
# (the DC's ldb and share modules), samba-ad-provision (provisioning data),
# winbind (the DC's winbindd), krb5-user (kinit, klist), ldap-utils and
# libsasl2-modules-gssapi-mit (ldapsearch -Y GSSAPI peer checks), and
# libgssapi-krb5-2, the library lingerscan loads at run time for -k;
# bind9-dnsutils (dig: the peer that reads the DC's SRV records in
# tests/ad_dns_discovery.rs).
# The plain smbd fixture runs with _NO_WINBINDD=1 so the DC's winbindd
# never takes part in its logons. Idempotent.
set -euo pipefail
SUDO="${SUDO:-}"
need=()
command -v samba >/dev/null 2>&1 || [ -x /usr/sbin/samba ] || need+=(samba-ad-dc)
# The `samba` binary comes with the samba package, but the DC also needs
# what samba-ad-dc depends on and 20-samba.sh's --no-install-recommends
# leaves out: its ldb modules (provisioning fails with "Module
# [samba_secrets] not found") and the VFS modules its shares use.
ls /usr/lib/*/samba/ldb/samba_dsdb.so >/dev/null 2>&1 || need+=(samba-dsdb-modules)
ls /usr/lib/*/samba/vfs/dfs_samba4.so >/dev/null 2>&1 || need+=(samba-vfs-modules)
[ -d /usr/share/samba/setup ] || need+=(samba-ad-provision)
command -v winbindd >/dev/null 2>&1 || [ -x /usr/sbin/winbindd ] || need+=(winbind)
command -v kinit >/dev/null 2>&1 || need+=(krb5-user)
command -v smbclient >/dev/null 2>&1 || need+=(smbclient)
command -v ldapsearch >/dev/null 2>&1 || need+=(ldap-utils)
[ -e /usr/lib/x86_64-linux-gnu/sasl2/libgssapiv2.so ] || ls /usr/lib/*/sasl2/libgssapiv2.so >/dev/null 2>&1 || need+=(libsasl2-modules-gssapi-mit)
ls /usr/lib/*/libgssapi_krb5.so.2 >/dev/null 2>&1 || need+=(libgssapi-krb5-2)
command -v dig >/dev/null 2>&1 || need+=(bind9-dnsutils)
if [ "${#need[@]}" -gt 0 ]; then
    echo "installing: ${need[*]}"
    $SUDO apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
echo "samba AD DC: $(samba --version 2>/dev/null || /usr/sbin/samba --version)"
