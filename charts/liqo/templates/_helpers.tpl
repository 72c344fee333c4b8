{{/*
Common helpers of the liqo chart.
*/}}

{{/* Chart name and version, as in the helm.sh/chart label. */}}
{{- define "liqo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Ports of the controller-manager (fixed: probes and scrapers rely on them). */}}
{{- define "liqo.controllerManager.healthPort" -}}8081{{- end -}}
{{- define "liqo.controllerManager.metricsPort" -}}8082{{- end -}}

{{/* Lease the controller-manager replicas elect their leader on. */}}
{{- define "liqo.controllerManager.leaseName" -}}66cf253f.ctrlmgr.liqo.io{{- end -}}

{{/* Where the controller-manager reads its settings file. */}}
{{- define "liqo.controllerManager.configDir" -}}/etc/liqo{{- end -}}

{{/*
Labels of an object. Call with a dict:
  ctx:       the root context
  name:      app.kubernetes.io/name (the component, or the name a role is discovered by)
  component: app.kubernetes.io/component (optional, defaults to name)
*/}}
{{- define "liqo.labels" -}}
{{ include "liqo.selectorLabels" . }}
app.kubernetes.io/component: {{ .component | default .name | quote }}
app.kubernetes.io/part-of: liqo
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service | quote }}
helm.sh/chart: {{ include "liqo.chart" .ctx | quote }}
{{- with .ctx.Values.common.globalLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels that select the pods of a component (same dict as liqo.labels). */}}
{{- define "liqo.selectorLabels" -}}
app.kubernetes.io/name: {{ .name | quote }}
app.kubernetes.io/instance: {{ printf "%s-%s" .ctx.Release.Name .name | trunc 63 | trimSuffix "-" | quote }}
{{- end -}}

{{/* Metadata block: labels, and the global annotations when there are any (same dict as liqo.labels). */}}
{{- define "liqo.metadata" -}}
labels:
  {{- include "liqo.labels" . | nindent 2 }}
{{- with .ctx.Values.common.globalAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Image reference of a component: call with (dict "ctx" $ "image" .Values.<component>.image). */}}
{{- define "liqo.image" -}}
{{- $tag := .image.tag | default .ctx.Values.tag | default .ctx.Chart.AppVersion -}}
{{- printf "%s:%s" .image.name $tag -}}
{{- end -}}

{{/* Pull policy of a component (same dict as liqo.image). */}}
{{- define "liqo.pullPolicy" -}}
{{- .image.pullPolicy | default .ctx.Values.pullPolicy -}}
{{- end -}}

{{/* Enabled modules, as a JSON list in upstream's order: networking, authentication, offloading. */}}
{{- define "liqo.modules" -}}
{{- $modules := list -}}
{{- range $module := list "networking" "authentication" "offloading" -}}
{{- if (get $.Values $module).enabled -}}
{{- $modules = append $modules $module -}}
{{- end -}}
{{- end -}}
{{- range $extra := .Values.extraModules -}}
{{- if has $extra.name $modules -}}
{{- fail (printf "extraModules: %s is listed more than once" $extra.name) -}}
{{- end -}}
{{- $modules = append $modules $extra.name -}}
{{- end -}}
{{- toJson $modules -}}
{{- end -}}

{{/* Whether the controller-manager replicas elect a leader: explicit value, else replicas > 1. */}}
{{- define "liqo.controllerManager.leaderElection" -}}
{{- $explicit := .Values.controllerManager.config.leaderElection -}}
{{- if kindIs "bool" $explicit -}}
{{- $explicit -}}
{{- else -}}
{{- gt (int .Values.controllerManager.replicas) 1 -}}
{{- end -}}
{{- end -}}

{{/*
The cluster ID, decided once per render:
  1. the ID already installed (ConfigMap liqo-clusterid-configmap, found with lookup);
  2. else discovery.config.clusterID;
  3. else a new random UUID.
A value that differs from the installed ID fails the release: the ID is immutable.
The decision is memoised on the root context so every template sees the same ID.
*/}}
{{- define "liqo.clusterID" -}}
{{- if not (hasKey .Values "liqoRenderState") -}}
{{- $_ := set .Values "liqoRenderState" dict -}}
{{- end -}}
{{- $state := .Values.liqoRenderState -}}
{{- if not (hasKey $state "clusterID") -}}
{{- $installed := lookup "v1" "ConfigMap" .Release.Namespace (include "liqo.clusterIDConfigMapName" .) -}}
{{- $installedID := dig "data" "CLUSTER_ID" "" ($installed | default dict) -}}
{{- $wanted := .Values.discovery.config.clusterID -}}
{{- if and $installedID $wanted (ne $installedID $wanted) -}}
{{- fail (printf "discovery.config.clusterID: the cluster ID of an installed Liqo cannot change (installed %q, requested %q); leave the value empty or set it to %q" $installedID $wanted $installedID) -}}
{{- end -}}
{{- $_ := set $state "clusterID" ($installedID | default $wanted | default uuidv4) -}}
{{- end -}}
{{- get $state "clusterID" -}}
{{- end -}}

{{- define "liqo.clusterIDConfigMapName" -}}liqo-clusterid-configmap{{- end -}}
{{- define "liqo.controllerManager.name" -}}liqo-controller-manager{{- end -}}
{{- define "liqo.controllerManager.configMapName" -}}liqo-controller-manager-config{{- end -}}
