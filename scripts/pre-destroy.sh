#!/usr/bin/env bash
# Empties the cluster of everything that lives outside Pulumi's state before
# `pulumi destroy`, so the destroy neither hangs nor leaks:
#   1. Argo CD's Applications are deleted with their resources (finalizer set
#      first; otherwise self-heal puts back whatever is deleted below).
#   2. Services of type LoadBalancer are deleted and waited for: the cloud
#      controller manager's ELBs, their ENIs and k8s-elb-* security groups
#      otherwise keep the subnets and the VPC from being deleted.
#   3. PersistentVolumeClaims are deleted (with the pods that hold them) and
#      the PersistentVolumes waited for: EBS volumes left behind do not block
#      the destroy, they keep costing money and keep the data.
#   4. AWS is checked for anything still tagged with the cluster.
# Then it unprotects the bootstrap resource (protected so that nothing can
# bootstrap a second etcd) and prints the destroy command.
#
#   scripts/pre-destroy.sh [--stack NAME] [--timeout SECONDS]
#   scripts/pre-destroy.sh --cluster-gone [--stack NAME]
#
# --cluster-gone is for a cluster whose API no longer answers: Helm releases
# cannot be uninstalled then (pulumi-kubernetes refuses to delete a release on
# an unreachable cluster, with or without deleteUnreachable), so they are
# removed from the state instead, and the load balancers, security groups and
# volumes the cluster made in AWS are deleted by their cluster tag.
#
# Needs: pulumi, kubectl, aws CLI v2; a machine in adminCidrs (or a CI runner
# that opened its address with scripts/ci-access.sh) unless --cluster-gone.
set -euo pipefail

stack_args=()
timeout=900
gone=false
while [ $# -gt 0 ]; do
  case "$1" in
    --stack) stack_args=(--stack "$2"); shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --cluster-gone) gone=true; shift ;;
    *) echo "usage: pre-destroy.sh [--stack NAME] [--timeout SECONDS] [--cluster-gone]" >&2; exit 2 ;;
  esac
done

cluster=$(pulumi config get clusterName "${stack_args[@]}" 2>/dev/null || echo talos-aws)
say() { printf 'pre-destroy: %s\n' "$*"; }

if [ "$gone" = false ]; then
  kubeconfig=$(mktemp)
  trap 'rm -f "$kubeconfig"' EXIT
  pulumi stack output kubeconfig --show-secrets "${stack_args[@]}" > "$kubeconfig"
  k() { kubectl --kubeconfig "$kubeconfig" "$@"; }
  k get --raw=/readyz >/dev/null || { say "the API server does not answer; from outside adminCidrs? If the cluster is gone, use --cluster-gone"; exit 1; }

  # 1. Argo CD first: with the finalizer, deleting an Application deletes what
  # it deployed; deleting the root also deletes the Applications it manages.
  if k get crd applications.argoproj.io >/dev/null 2>&1; then
    for app in $(k get applications.argoproj.io -A -o go-template='{{range .items}}{{.metadata.namespace}}/{{.metadata.name}} {{end}}'); do
      k -n "${app%%/*}" patch application "${app#*/}" --type merge \
        -p '{"metadata":{"finalizers":["resources-finalizer.argocd.argoproj.io"]},"spec":{"syncPolicy":null}}' >/dev/null
    done
    say "deleting Argo CD applications with their resources"
    k delete applications.argoproj.io -A --all --wait=true --timeout="${timeout}s"
  fi

  # 2. LoadBalancer Services: the service controller's finalizer holds each
  # one until its ELB is gone, so waiting for the Services waits for the ELBs.
  lbs=$(k get svc -A -o go-template='{{range .items}}{{if eq .spec.type "LoadBalancer"}}{{.metadata.namespace}}/{{.metadata.name}} {{end}}{{end}}')
  for svc in $lbs; do
    say "deleting LoadBalancer service $svc"
    k -n "${svc%%/*}" delete svc "${svc#*/}" --wait=true --timeout="${timeout}s"
  done

  # 3. Claims, then the pods that keep them in use (pvc-protection), then wait
  # for the volumes (reclaimPolicy Delete: the CSI driver deletes the EBS volume).
  k delete pvc -A --all --wait=false
  for pod in $(k get pods -A -o go-template='{{range .items}}{{$p := .}}{{range .spec.volumes}}{{if .persistentVolumeClaim}}{{$p.metadata.namespace}}/{{$p.metadata.name}} {{end}}{{end}}{{end}}' | tr ' ' '\n' | sort -u); do
    k -n "${pod%%/*}" delete pod "${pod#*/}" --wait=false
  done
  say "waiting for persistent volumes to be deleted"
  deadline=$((SECONDS + timeout))
  while [ -n "$(k get pv -o name)" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "persistent volumes remain after ${timeout}s (reclaimPolicy Retain, or pods recreated by a controller):"
      k get pv; exit 1
    fi
    sleep 10
  done
else
  say "cluster gone: removing Helm releases from the state (they cannot be uninstalled)"
  for urn in $(pulumi stack export "${stack_args[@]}" | sed -n 's/.*"urn": "\(urn:pulumi:[^"]*kubernetes:helm.sh\/v3:Release::[^"]*\)".*/\1/p' | sort -u); do
    # Dependents first go with it (argocd-apps follows argocd); a later URN
    # already removed that way is not an error.
    pulumi state delete "$urn" --target-dependents --yes "${stack_args[@]}" || say "skipped $urn (already removed)"
  done
  say "deleting what the cluster made in AWS (tagged kubernetes.io/cluster/${cluster}, not the stack's own)"
  for arn in $(aws resourcegroupstaggingapi get-resources --resource-type-filters elasticloadbalancing:loadbalancer \
      --tag-filters "Key=kubernetes.io/cluster/${cluster}" "Key=kubernetes.io/service-name" \
      --query 'ResourceTagMappingList[].ResourceARN' --output text); do
    case "$arn" in
      */app/*|*/net/*) aws elbv2 delete-load-balancer --load-balancer-arn "$arn" ;;
      *) aws elb delete-load-balancer --load-balancer-name "${arn##*/}" ;;
    esac
  done
  for vol in $(aws ec2 describe-volumes --filters "Name=tag:kubernetes.io/cluster/${cluster},Values=owned" "Name=status,Values=available" \
      --query 'Volumes[].VolumeId' --output text); do
    aws ec2 delete-volume --volume-id "$vol"
  done
fi

# 4. What is still tagged with the cluster and not the stack's: k8s-elb-*
# groups (deleted once their ELB's ENIs are gone) and volumes still attached.
leftover_sgs=$(aws ec2 describe-security-groups --filters "Name=tag-key,Values=kubernetes.io/cluster/${cluster}" "Name=group-name,Values=k8s-elb-*" \
  --query 'SecurityGroups[].GroupId' --output text)
for sg in $leftover_sgs; do
  aws ec2 delete-security-group --group-id "$sg" || say "security group $sg still in use; retry in a minute"
done

say "unprotecting the bootstrap resource (protected against re-bootstrapping a live cluster)"
pulumi state unprotect --all --yes "${stack_args[@]}"
say "ready: now run  pulumi destroy ${stack_args[*]}"
