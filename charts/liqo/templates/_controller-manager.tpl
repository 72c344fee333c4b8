{{/*
The controller-manager settings file (docs/architecture.md, "Settings"): core keys, the
ordered list of enabled modules, and one section per enabled module.
*/}}
{{- define "liqo.controllerManager.settings" -}}
{{- $settings := dict
  "clusterID" (include "liqo.clusterID" .)
  "namespace" .Release.Namespace
  "modules" (include "liqo.modules" . | fromJsonArray) -}}
{{- range $module := list "networking" "authentication" "offloading" }}
{{- if (get $.Values $module).enabled }}
{{- $_ := set $settings $module (include (printf "liqo.%s.settings" $module) $ | fromYaml) -}}
{{- end }}
{{- end }}
{{- $leaderElection := dict
  "enabled" (eq (include "liqo.controllerManager.leaderElection" .) "true")
  "leaseName" (include "liqo.controllerManager.leaseName" .) -}}
{{- $_ := set $settings "controllerManager" (dict
  "leaderElection" $leaderElection
  "healthPort" (include "liqo.controllerManager.healthPort" . | int)
  "metricsPort" (include "liqo.controllerManager.metricsPort" . | int)) -}}
{{- $options := dict -}}
{{- range $extra := .Values.extraModules }}
{{- if $extra.options }}
{{- $_ := set $options $extra.name $extra.options -}}
{{- end }}
{{- end }}
{{- if $options }}
{{- $_ := set $settings "moduleOptions" $options -}}
{{- end }}
{{- if .Values.authentication.enabled }}
{{- $settings = mergeOverwrite $settings (include "liqo.authentication.sharedSettings" . | fromYaml) -}}
{{- end }}
{{- toYaml $settings -}}
{{- end -}}
