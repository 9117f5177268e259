#!/usr/bin/env bash
# Opens (or closes) this CI runner's own address on the stack's CI access
# security group, which sits on the public NLB next to the adminCidrs group.
# Pulumi never manages that group's rules, so an `up` does not revert them.
#
#   scripts/ci-access.sh open  [--wait SECONDS]   add <runner-ip>/32 on 6443 and 50000
#   scripts/ci-access.sh close                    remove them again (run it with `if: always()`)
#
# The group is found by its tag talos-aws-ci-access=<cluster name>, so the first
# `up` works too: with --wait, `open` polls until the stack has created the group
# (bootstrap retries for 20 minutes, so a rule added mid-run is in time).
# Needs: aws CLI v2 and curl. Environment: CLUSTER_NAME (default talos-aws),
# AWS_REGION, and credentials of a role holding the stack's ciAccessPolicy output.
set -euo pipefail

action=${1:?usage: ci-access.sh open [--wait SECONDS] | close}
wait_s=0
if [ "${2:-}" = "--wait" ]; then wait_s=${3:?--wait needs seconds}; fi
cluster=${CLUSTER_NAME:-talos-aws}
ports=(6443 50000)
desc="ci-run-${GITHUB_RUN_ID:-local}"

runner_ip() {
  local ip
  ip=$(curl -fsS --max-time 10 https://checkip.amazonaws.com | tr -d '[:space:]')
  [[ $ip =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "ci-access: could not learn this runner's public IPv4 (got '$ip')" >&2; return 1; }
  echo "$ip"
}

find_group() {
  aws ec2 describe-security-groups \
    --filters "Name=tag:talos-aws-ci-access,Values=${cluster}" \
    --query 'SecurityGroups[0].GroupId' --output text
}

group=$(find_group)
deadline=$((SECONDS + wait_s))
while [ "$group" = "None" ] || [ -z "$group" ]; do
  if [ "$action" != "open" ] || [ "$SECONDS" -ge "$deadline" ]; then
    echo "ci-access: no security group tagged talos-aws-ci-access=${cluster} in ${AWS_REGION:-the default region}; nothing to ${action}"
    exit 0
  fi
  sleep 10
  group=$(find_group)
done

ip=$(runner_ip)
for port in "${ports[@]}"; do
  perm="IpProtocol=tcp,FromPort=${port},ToPort=${port},IpRanges=[{CidrIp=${ip}/32,Description=${desc}}]"
  case "$action" in
    open)
      if out=$(aws ec2 authorize-security-group-ingress --group-id "$group" --ip-permissions "$perm" 2>&1); then
        echo "ci-access: opened ${ip}/32 on ${port} (${group})"
      elif grep -q InvalidPermission.Duplicate <<<"$out"; then
        echo "ci-access: ${ip}/32 on ${port} already open (${group})"
      else
        echo "$out" >&2; exit 1
      fi
      ;;
    close)
      perm="IpProtocol=tcp,FromPort=${port},ToPort=${port},IpRanges=[{CidrIp=${ip}/32}]"
      if out=$(aws ec2 revoke-security-group-ingress --group-id "$group" --ip-permissions "$perm" 2>&1); then
        echo "ci-access: closed ${ip}/32 on ${port} (${group})"
      elif grep -q InvalidPermission.NotFound <<<"$out"; then
        echo "ci-access: ${ip}/32 on ${port} was not open (${group})"
      else
        echo "$out" >&2; exit 1
      fi
      ;;
    *) echo "usage: ci-access.sh open [--wait SECONDS] | close" >&2; exit 2 ;;
  esac
done
