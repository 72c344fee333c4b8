{{/*
The controller-manager settings file (docs/architecture.md, "Settings"): core keys, the
ordered list of enabled modules, and one section per enabled module.
*/}}
{{- define "liqo.controllerManager.settings" -}}
{{- $settings := dict
  "clusterID" (include "liqo.clusterID" .)
  "namespace" .Release.Namespace
  "modules" (include "liqo.modules" . | fromJsonArray) -}}
{{- /* The modules with a settings section; offloading has none yet. */}}
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
{{- /* A third-party module's options are its own settings section, under its name. */}}
{{- range $extra := .Values.extraModules }}
{{- if $extra.options }}
{{- $_ := set $settings $extra.name $extra.options -}}
{{- end }}
{{- end }}
{{- toYaml $settings -}}
{{- end -}}
