"""Protobuf field table of the built-in kinds the emulator decodes (data, not logic).

One block per message: ``@<package alias>.<Message>`` then ``<number> <json name> <type>
<flags>`` per field. Types are scalars (string, bytes, int, bool, double, float), the
apimachinery wrappers (time, microtime, duration, rawjson, intorstring, quantity),
``map:<value type>``, ``skip`` (a message of an API group the emulator does not serve) or
another message. Flags: ``r`` repeated, ``p`` pointer in Go (an encoded zero is a value),
``k`` serialized even when zero (no ``omitempty``), ``i`` embedded (inline: its fields
are the parent's in JSON), ``-`` none.

These are facts of the Kubernetes wire format (field numbers of ``generated.proto`` and the
JSON names of the Go types of k8s.io/api and k8s.io/apimachinery), limited to the messages
reachable from the served kinds. Regenerate with ``scripts/gen_protobuf_table.py`` (from
checkouts of k8s.io/api and k8s.io/apimachinery) when a served kind is added.
"""

TABLE = """
@admissionregistration.v1.MatchCondition
1 name string k
2 expression string k
@admissionregistration.v1.MutatingWebhook
1 name string k
2 clientConfig admissionregistration.v1.WebhookClientConfig k
3 rules admissionregistration.v1.RuleWithOperations r
4 failurePolicy string p
9 matchPolicy string p
5 namespaceSelector meta.v1.LabelSelector p
11 objectSelector meta.v1.LabelSelector p
6 sideEffects string p
7 timeoutSeconds int p
8 admissionReviewVersions string rk
10 reinvocationPolicy string p
12 matchConditions admissionregistration.v1.MatchCondition r
@admissionregistration.v1.MutatingWebhookConfiguration
1 metadata meta.v1.ObjectMeta -
2 webhooks admissionregistration.v1.MutatingWebhook r
@admissionregistration.v1.Rule
1 apiGroups string r
2 apiVersions string r
3 resources string r
4 scope string p
@admissionregistration.v1.RuleWithOperations
1 operations string r
2 rule admissionregistration.v1.Rule ik
@admissionregistration.v1.ServiceReference
1 namespace string k
2 name string k
3 path string p
4 port int p
@admissionregistration.v1.ValidatingWebhook
1 name string k
2 clientConfig admissionregistration.v1.WebhookClientConfig k
3 rules admissionregistration.v1.RuleWithOperations r
4 failurePolicy string p
9 matchPolicy string p
5 namespaceSelector meta.v1.LabelSelector p
10 objectSelector meta.v1.LabelSelector p
6 sideEffects string p
7 timeoutSeconds int p
8 admissionReviewVersions string rk
11 matchConditions admissionregistration.v1.MatchCondition r
@admissionregistration.v1.ValidatingWebhookConfiguration
1 metadata meta.v1.ObjectMeta -
2 webhooks admissionregistration.v1.ValidatingWebhook r
@admissionregistration.v1.WebhookClientConfig
3 url string p
1 service admissionregistration.v1.ServiceReference p
2 caBundle bytes -
@apps.v1.ControllerRevision
1 metadata meta.v1.ObjectMeta -
2 data rawjson k
3 revision int k
@apps.v1.DaemonSet
1 metadata meta.v1.ObjectMeta -
2 spec apps.v1.DaemonSetSpec -
3 status apps.v1.DaemonSetStatus -
@apps.v1.DaemonSetCondition
1 type string k
2 status string k
3 lastTransitionTime time -
4 reason string -
5 message string -
@apps.v1.DaemonSetSpec
1 selector meta.v1.LabelSelector p
2 template core.v1.PodTemplateSpec k
3 updateStrategy apps.v1.DaemonSetUpdateStrategy -
4 minReadySeconds int -
6 revisionHistoryLimit int p
@apps.v1.DaemonSetStatus
1 currentNumberScheduled int k
2 numberMisscheduled int k
3 desiredNumberScheduled int k
4 numberReady int k
5 observedGeneration int -
6 updatedNumberScheduled int -
7 numberAvailable int -
8 numberUnavailable int -
9 collisionCount int p
10 conditions apps.v1.DaemonSetCondition r
@apps.v1.DaemonSetUpdateStrategy
1 type string -
2 rollingUpdate apps.v1.RollingUpdateDaemonSet p
@apps.v1.Deployment
1 metadata meta.v1.ObjectMeta -
2 spec apps.v1.DeploymentSpec -
3 status apps.v1.DeploymentStatus -
@apps.v1.DeploymentCondition
1 type string k
2 status string k
6 lastUpdateTime time -
7 lastTransitionTime time -
4 reason string -
5 message string -
@apps.v1.DeploymentSpec
1 replicas int p
2 selector meta.v1.LabelSelector p
3 template core.v1.PodTemplateSpec k
4 strategy apps.v1.DeploymentStrategy -
5 minReadySeconds int -
6 revisionHistoryLimit int p
7 paused bool -
9 progressDeadlineSeconds int p
@apps.v1.DeploymentStatus
1 observedGeneration int -
2 replicas int -
3 updatedReplicas int -
7 readyReplicas int -
4 availableReplicas int -
5 unavailableReplicas int -
9 terminatingReplicas int p
6 conditions apps.v1.DeploymentCondition r
8 collisionCount int p
@apps.v1.DeploymentStrategy
1 type string -
2 rollingUpdate apps.v1.RollingUpdateDeployment p
@apps.v1.ReplicaSet
1 metadata meta.v1.ObjectMeta -
2 spec apps.v1.ReplicaSetSpec -
3 status apps.v1.ReplicaSetStatus -
@apps.v1.ReplicaSetCondition
1 type string k
2 status string k
3 lastTransitionTime time -
4 reason string -
5 message string -
@apps.v1.ReplicaSetSpec
1 replicas int p
4 minReadySeconds int -
2 selector meta.v1.LabelSelector p
3 template core.v1.PodTemplateSpec -
@apps.v1.ReplicaSetStatus
1 replicas int k
2 fullyLabeledReplicas int -
4 readyReplicas int -
5 availableReplicas int -
7 terminatingReplicas int p
3 observedGeneration int -
6 conditions apps.v1.ReplicaSetCondition r
@apps.v1.RollingUpdateDaemonSet
1 maxUnavailable intorstring p
2 maxSurge intorstring p
@apps.v1.RollingUpdateDeployment
1 maxUnavailable intorstring p
2 maxSurge intorstring p
@apps.v1.RollingUpdateStatefulSetStrategy
1 partition int p
2 maxUnavailable intorstring p
@apps.v1.StatefulSet
1 metadata meta.v1.ObjectMeta -
2 spec apps.v1.StatefulSetSpec -
3 status apps.v1.StatefulSetStatus -
@apps.v1.StatefulSetCondition
1 type string k
2 status string k
3 lastTransitionTime time -
4 reason string -
5 message string -
@apps.v1.StatefulSetOrdinals
1 start int k
@apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy
1 whenDeleted string -
2 whenScaled string -
@apps.v1.StatefulSetSpec
1 replicas int p
2 selector meta.v1.LabelSelector p
3 template core.v1.PodTemplateSpec k
4 volumeClaimTemplates core.v1.PersistentVolumeClaim r
5 serviceName string k
6 podManagementPolicy string -
7 updateStrategy apps.v1.StatefulSetUpdateStrategy -
8 revisionHistoryLimit int p
9 minReadySeconds int -
10 persistentVolumeClaimRetentionPolicy apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy p
11 ordinals apps.v1.StatefulSetOrdinals p
@apps.v1.StatefulSetStatus
1 observedGeneration int -
2 replicas int k
3 readyReplicas int -
4 currentReplicas int -
5 updatedReplicas int -
6 currentRevision string -
7 updateRevision string -
9 collisionCount int p
10 conditions apps.v1.StatefulSetCondition r
11 availableReplicas int k
@apps.v1.StatefulSetUpdateStrategy
1 type string -
2 rollingUpdate apps.v1.RollingUpdateStatefulSetStrategy p
@authentication.v1.AttestationValue
1 items string r
@authentication.v1.BoundObjectReference
1 kind string -
2 apiVersion string -
3 name string -
4 uid string -
@authentication.v1.ExtraValue
1 items string r
@authentication.v1.SelfSubjectReview
1 metadata meta.v1.ObjectMeta -
2 status authentication.v1.SelfSubjectReviewStatus -
@authentication.v1.SelfSubjectReviewStatus
1 userInfo authentication.v1.UserInfo -
@authentication.v1.TokenRequest
1 metadata meta.v1.ObjectMeta -
2 spec authentication.v1.TokenRequestSpec k
3 status authentication.v1.TokenRequestStatus -
@authentication.v1.TokenRequestSpec
1 audiences string rk
4 expirationSeconds int p
3 boundObjectRef authentication.v1.BoundObjectReference p
5 attestations map:authentication.v1.AttestationValue -
@authentication.v1.TokenRequestStatus
1 token string k
2 expirationTimestamp time k
@authentication.v1.TokenReview
1 metadata meta.v1.ObjectMeta -
2 spec authentication.v1.TokenReviewSpec k
3 status authentication.v1.TokenReviewStatus -
@authentication.v1.TokenReviewSpec
1 token string -
2 audiences string r
@authentication.v1.TokenReviewStatus
1 authenticated bool -
2 user authentication.v1.UserInfo -
4 audiences string r
3 error string -
@authentication.v1.UserInfo
1 username string -
2 uid string -
3 groups string r
4 extra map:authentication.v1.ExtraValue -
@authorization.v1.ExtraValue
1 items string r
@authorization.v1.FieldSelectorAttributes
1 rawSelector string -
2 requirements meta.v1.FieldSelectorRequirement r
@authorization.v1.LabelSelectorAttributes
1 rawSelector string -
2 requirements meta.v1.LabelSelectorRequirement r
@authorization.v1.LocalSubjectAccessReview
1 metadata meta.v1.ObjectMeta -
2 spec authorization.v1.SubjectAccessReviewSpec k
3 status authorization.v1.SubjectAccessReviewStatus -
@authorization.v1.NonResourceAttributes
1 path string -
2 verb string -
@authorization.v1.NonResourceRule
1 verbs string rk
2 nonResourceURLs string r
@authorization.v1.ResourceAttributes
1 namespace string -
2 verb string -
3 group string -
4 version string -
5 resource string -
6 subresource string -
7 name string -
8 fieldSelector authorization.v1.FieldSelectorAttributes p
9 labelSelector authorization.v1.LabelSelectorAttributes p
@authorization.v1.ResourceRule
1 verbs string rk
2 apiGroups string r
3 resources string r
4 resourceNames string r
@authorization.v1.SelfSubjectAccessReview
1 metadata meta.v1.ObjectMeta -
2 spec authorization.v1.SelfSubjectAccessReviewSpec k
3 status authorization.v1.SubjectAccessReviewStatus -
@authorization.v1.SelfSubjectAccessReviewSpec
1 resourceAttributes authorization.v1.ResourceAttributes p
2 nonResourceAttributes authorization.v1.NonResourceAttributes p
@authorization.v1.SelfSubjectRulesReview
1 metadata meta.v1.ObjectMeta -
2 spec authorization.v1.SelfSubjectRulesReviewSpec k
3 status authorization.v1.SubjectRulesReviewStatus -
@authorization.v1.SelfSubjectRulesReviewSpec
1 namespace string -
@authorization.v1.SubjectAccessReview
1 metadata meta.v1.ObjectMeta -
2 spec authorization.v1.SubjectAccessReviewSpec k
3 status authorization.v1.SubjectAccessReviewStatus -
@authorization.v1.SubjectAccessReviewSpec
1 resourceAttributes authorization.v1.ResourceAttributes p
2 nonResourceAttributes authorization.v1.NonResourceAttributes p
3 user string -
4 groups string r
5 extra map:authorization.v1.ExtraValue -
6 uid string -
@authorization.v1.SubjectAccessReviewStatus
1 allowed bool k
4 denied bool -
2 reason string -
3 evaluationError string -
@authorization.v1.SubjectRulesReviewStatus
1 resourceRules authorization.v1.ResourceRule rk
2 nonResourceRules authorization.v1.NonResourceRule rk
3 incomplete bool k
4 evaluationError string -
@autoscaling.v1.CrossVersionObjectReference
1 kind string k
2 name string k
3 apiVersion string -
@autoscaling.v1.HorizontalPodAutoscaler
1 metadata meta.v1.ObjectMeta -
2 spec autoscaling.v1.HorizontalPodAutoscalerSpec -
3 status autoscaling.v1.HorizontalPodAutoscalerStatus -
@autoscaling.v1.HorizontalPodAutoscalerSpec
1 scaleTargetRef autoscaling.v1.CrossVersionObjectReference k
2 minReplicas int p
3 maxReplicas int k
4 targetCPUUtilizationPercentage int p
@autoscaling.v1.HorizontalPodAutoscalerStatus
1 observedGeneration int p
2 lastScaleTime time p
3 currentReplicas int k
4 desiredReplicas int k
5 currentCPUUtilizationPercentage int p
@autoscaling.v1.Scale
1 metadata meta.v1.ObjectMeta -
2 spec autoscaling.v1.ScaleSpec -
3 status autoscaling.v1.ScaleStatus -
@autoscaling.v1.ScaleSpec
1 replicas int -
@autoscaling.v1.ScaleStatus
1 replicas int k
2 selector string -
@autoscaling.v2.ContainerResourceMetricSource
1 name string k
2 target autoscaling.v2.MetricTarget k
3 container string k
@autoscaling.v2.ContainerResourceMetricStatus
1 name string k
2 current autoscaling.v2.MetricValueStatus k
3 container string k
@autoscaling.v2.CrossVersionObjectReference
1 kind string k
2 name string k
3 apiVersion string -
@autoscaling.v2.ExternalMetricSource
1 metric autoscaling.v2.MetricIdentifier k
2 target autoscaling.v2.MetricTarget k
@autoscaling.v2.ExternalMetricStatus
1 metric autoscaling.v2.MetricIdentifier k
2 current autoscaling.v2.MetricValueStatus k
@autoscaling.v2.HPAScalingPolicy
1 type string k
2 value int k
3 periodSeconds int k
@autoscaling.v2.HPAScalingRules
3 stabilizationWindowSeconds int p
1 selectPolicy string p
2 policies autoscaling.v2.HPAScalingPolicy r
4 tolerance quantity p
@autoscaling.v2.HorizontalPodAutoscaler
1 metadata meta.v1.ObjectMeta -
2 spec autoscaling.v2.HorizontalPodAutoscalerSpec -
3 status autoscaling.v2.HorizontalPodAutoscalerStatus -
@autoscaling.v2.HorizontalPodAutoscalerBehavior
1 scaleUp autoscaling.v2.HPAScalingRules p
2 scaleDown autoscaling.v2.HPAScalingRules p
@autoscaling.v2.HorizontalPodAutoscalerCondition
1 type string k
2 status string k
3 lastTransitionTime time -
4 reason string -
5 message string -
6 observedGeneration int p
@autoscaling.v2.HorizontalPodAutoscalerSpec
1 scaleTargetRef autoscaling.v2.CrossVersionObjectReference k
2 minReplicas int p
3 maxReplicas int k
4 metrics autoscaling.v2.MetricSpec r
5 behavior autoscaling.v2.HorizontalPodAutoscalerBehavior p
@autoscaling.v2.HorizontalPodAutoscalerStatus
1 observedGeneration int p
2 lastScaleTime time p
3 currentReplicas int -
4 desiredReplicas int k
5 currentMetrics autoscaling.v2.MetricStatus rk
6 conditions autoscaling.v2.HorizontalPodAutoscalerCondition r
@autoscaling.v2.MetricIdentifier
1 name string k
2 selector meta.v1.LabelSelector p
@autoscaling.v2.MetricSpec
1 type string k
2 object autoscaling.v2.ObjectMetricSource p
3 pods autoscaling.v2.PodsMetricSource p
4 resource autoscaling.v2.ResourceMetricSource p
7 containerResource autoscaling.v2.ContainerResourceMetricSource p
5 external autoscaling.v2.ExternalMetricSource p
@autoscaling.v2.MetricStatus
1 type string k
2 object autoscaling.v2.ObjectMetricStatus p
3 pods autoscaling.v2.PodsMetricStatus p
4 resource autoscaling.v2.ResourceMetricStatus p
7 containerResource autoscaling.v2.ContainerResourceMetricStatus p
5 external autoscaling.v2.ExternalMetricStatus p
@autoscaling.v2.MetricTarget
1 type string k
2 value quantity p
3 averageValue quantity p
4 averageUtilization int p
@autoscaling.v2.MetricValueStatus
1 value quantity p
2 averageValue quantity p
3 averageUtilization int p
@autoscaling.v2.ObjectMetricSource
1 describedObject autoscaling.v2.CrossVersionObjectReference k
2 target autoscaling.v2.MetricTarget k
3 metric autoscaling.v2.MetricIdentifier k
@autoscaling.v2.ObjectMetricStatus
1 metric autoscaling.v2.MetricIdentifier k
2 current autoscaling.v2.MetricValueStatus k
3 describedObject autoscaling.v2.CrossVersionObjectReference k
@autoscaling.v2.PodsMetricSource
1 metric autoscaling.v2.MetricIdentifier k
2 target autoscaling.v2.MetricTarget k
@autoscaling.v2.PodsMetricStatus
1 metric autoscaling.v2.MetricIdentifier k
2 current autoscaling.v2.MetricValueStatus k
@autoscaling.v2.ResourceMetricSource
1 name string k
2 target autoscaling.v2.MetricTarget k
@autoscaling.v2.ResourceMetricStatus
1 name string k
2 current autoscaling.v2.MetricValueStatus k
@batch.v1.CronJob
1 metadata meta.v1.ObjectMeta -
2 spec batch.v1.CronJobSpec -
3 status batch.v1.CronJobStatus -
@batch.v1.CronJobSpec
1 schedule string k
8 timeZone string p
2 startingDeadlineSeconds int p
3 concurrencyPolicy string -
4 suspend bool p
5 jobTemplate batch.v1.JobTemplateSpec k
6 successfulJobsHistoryLimit int p
7 failedJobsHistoryLimit int p
@batch.v1.CronJobStatus
1 active core.v1.ObjectReference r
4 lastScheduleTime time p
5 lastSuccessfulTime time p
@batch.v1.Job
1 metadata meta.v1.ObjectMeta -
2 spec batch.v1.JobSpec -
3 status batch.v1.JobStatus -
@batch.v1.JobCondition
1 type string k
2 status string k
3 lastProbeTime time -
4 lastTransitionTime time -
5 reason string -
6 message string -
@batch.v1.JobSchedulingConfiguration
1 schedulingPolicy skip p
2 schedulingConstraints skip p
3 disruptionMode skip p
4 resourceClaims skip r
@batch.v1.JobSpec
1 parallelism int p
2 completions int p
3 activeDeadlineSeconds int p
11 podFailurePolicy batch.v1.PodFailurePolicy p
16 successPolicy batch.v1.SuccessPolicy p
7 backoffLimit int p
12 backoffLimitPerIndex int p
13 maxFailedIndexes int p
4 selector meta.v1.LabelSelector p
5 manualSelector bool p
6 template core.v1.PodTemplateSpec k
8 ttlSecondsAfterFinished int p
9 completionMode string p
10 suspend bool p
14 podReplacementPolicy string p
15 managedBy string p
17 scheduling batch.v1.JobSchedulingConfiguration p
@batch.v1.JobStatus
1 conditions batch.v1.JobCondition r
2 startTime time p
3 completionTime time p
4 active int -
5 succeeded int -
6 failed int -
11 terminating int p
7 completedIndexes string -
10 failedIndexes string p
8 uncountedTerminatedPods batch.v1.UncountedTerminatedPods p
9 ready int p
@batch.v1.JobTemplateSpec
1 metadata meta.v1.ObjectMeta -
2 spec batch.v1.JobSpec -
@batch.v1.PodFailurePolicy
1 rules batch.v1.PodFailurePolicyRule rk
@batch.v1.PodFailurePolicyOnExitCodesRequirement
1 containerName string p
2 operator string k
3 values int rk
@batch.v1.PodFailurePolicyOnPodConditionsPattern
1 type string k
2 status string k
@batch.v1.PodFailurePolicyRule
1 action string k
2 onExitCodes batch.v1.PodFailurePolicyOnExitCodesRequirement p
3 onPodConditions batch.v1.PodFailurePolicyOnPodConditionsPattern r
@batch.v1.SuccessPolicy
1 rules batch.v1.SuccessPolicyRule rk
@batch.v1.SuccessPolicyRule
1 succeededIndexes string p
2 succeededCount int p
@batch.v1.UncountedTerminatedPods
1 succeeded string r
2 failed string r
@certificates.v1.CertificateSigningRequest
1 metadata meta.v1.ObjectMeta -
2 spec certificates.v1.CertificateSigningRequestSpec k
3 status certificates.v1.CertificateSigningRequestStatus -
@certificates.v1.CertificateSigningRequestCondition
1 type string k
6 status string k
2 reason string -
3 message string -
4 lastUpdateTime time -
5 lastTransitionTime time -
@certificates.v1.CertificateSigningRequestSpec
1 request bytes k
7 signerName string k
8 expirationSeconds int p
5 usages string r
2 username string -
3 uid string -
4 groups string r
6 extra map:certificates.v1.ExtraValue -
@certificates.v1.CertificateSigningRequestStatus
1 conditions certificates.v1.CertificateSigningRequestCondition r
2 certificate bytes -
@certificates.v1.ExtraValue
1 items string r
@coordination.v1.Lease
1 metadata meta.v1.ObjectMeta -
2 spec coordination.v1.LeaseSpec -
@coordination.v1.LeaseSpec
1 holderIdentity string p
2 leaseDurationSeconds int p
3 acquireTime microtime p
4 renewTime microtime p
5 leaseTransitions int p
6 strategy string p
7 preferredHolder string p
@core.v1.AWSElasticBlockStoreVolumeSource
1 volumeID string k
2 fsType string -
3 partition int -
4 readOnly bool -
@core.v1.Affinity
1 nodeAffinity core.v1.NodeAffinity p
2 podAffinity core.v1.PodAffinity p
3 podAntiAffinity core.v1.PodAntiAffinity p
@core.v1.AppArmorProfile
1 type string k
2 localhostProfile string p
@core.v1.AttachedVolume
1 name string k
2 devicePath string k
@core.v1.AzureDiskVolumeSource
1 diskName string k
2 diskURI string k
3 cachingMode string p
4 fsType string p
5 readOnly bool p
6 kind string p
@core.v1.AzureFilePersistentVolumeSource
1 secretName string k
2 shareName string k
3 readOnly bool -
4 secretNamespace string p
@core.v1.AzureFileVolumeSource
1 secretName string k
2 shareName string k
3 readOnly bool -
@core.v1.Binding
1 metadata meta.v1.ObjectMeta -
2 target core.v1.ObjectReference k
@core.v1.CSIPersistentVolumeSource
1 driver string k
2 volumeHandle string k
3 readOnly bool -
4 fsType string -
5 volumeAttributes map:string -
6 controllerPublishSecretRef core.v1.SecretReference p
7 nodeStageSecretRef core.v1.SecretReference p
8 nodePublishSecretRef core.v1.SecretReference p
9 controllerExpandSecretRef core.v1.SecretReference p
10 nodeExpandSecretRef core.v1.SecretReference p
@core.v1.CSIVolumeSource
1 driver string k
2 readOnly bool p
3 fsType string p
4 volumeAttributes map:string -
5 nodePublishSecretRef core.v1.LocalObjectReference p
@core.v1.Capabilities
1 add string r
2 drop string r
@core.v1.CephFSPersistentVolumeSource
1 monitors string rk
2 path string -
3 user string -
4 secretFile string -
5 secretRef core.v1.SecretReference p
6 readOnly bool -
@core.v1.CephFSVolumeSource
1 monitors string rk
2 path string -
3 user string -
4 secretFile string -
5 secretRef core.v1.LocalObjectReference p
6 readOnly bool -
@core.v1.CinderPersistentVolumeSource
1 volumeID string k
2 fsType string -
3 readOnly bool -
4 secretRef core.v1.SecretReference p
@core.v1.CinderVolumeSource
1 volumeID string k
2 fsType string -
3 readOnly bool -
4 secretRef core.v1.LocalObjectReference p
@core.v1.ClientIPConfig
1 timeoutSeconds int p
@core.v1.ClusterTrustBundleProjection
1 name string p
2 signerName string p
3 labelSelector meta.v1.LabelSelector p
5 optional bool p
4 path string k
6 user int p
@core.v1.ConfigMap
1 metadata meta.v1.ObjectMeta -
4 immutable bool p
2 data map:string -
3 binaryData map:bytes -
@core.v1.ConfigMapEnvSource
1 localObjectReference core.v1.LocalObjectReference ik
2 optional bool p
@core.v1.ConfigMapKeySelector
1 localObjectReference core.v1.LocalObjectReference ik
2 key string k
3 optional bool p
@core.v1.ConfigMapNodeConfigSource
1 namespace string k
2 name string k
3 uid string -
4 resourceVersion string -
5 kubeletConfigKey string k
@core.v1.ConfigMapProjection
1 localObjectReference core.v1.LocalObjectReference ik
2 items core.v1.KeyToPath r
4 optional bool p
@core.v1.ConfigMapVolumeSource
1 localObjectReference core.v1.LocalObjectReference ik
2 items core.v1.KeyToPath r
3 defaultMode int p
4 optional bool p
5 defaultUser int p
@core.v1.Container
1 name string k
2 image string -
3 command string r
4 args string r
5 workingDir string -
6 ports core.v1.ContainerPort r
19 envFrom core.v1.EnvFromSource r
7 env core.v1.EnvVar r
8 resources core.v1.ResourceRequirements -
23 resizePolicy core.v1.ContainerResizePolicy r
24 restartPolicy string p
25 restartPolicyRules core.v1.ContainerRestartRule r
9 volumeMounts core.v1.VolumeMount r
21 volumeDevices core.v1.VolumeDevice r
10 livenessProbe core.v1.Probe p
11 readinessProbe core.v1.Probe p
22 startupProbe core.v1.Probe p
12 lifecycle core.v1.Lifecycle p
13 terminationMessagePath string -
20 terminationMessagePolicy string -
14 imagePullPolicy string -
15 securityContext core.v1.SecurityContext p
16 stdin bool -
17 stdinOnce bool -
18 tty bool -
@core.v1.ContainerExtendedResourceRequest
1 containerName string k
2 resourceName string k
3 requestName string k
@core.v1.ContainerImage
1 names string rk
2 sizeBytes int -
@core.v1.ContainerPort
1 name string -
2 hostPort int -
3 containerPort int k
4 protocol string -
5 hostIP string -
@core.v1.ContainerResizePolicy
1 resourceName string k
2 restartPolicy string k
@core.v1.ContainerRestartRule
1 action string -
2 exitCodes core.v1.ContainerRestartRuleOnExitCodes p
@core.v1.ContainerRestartRuleOnExitCodes
1 operator string -
2 values int r
@core.v1.ContainerState
1 waiting core.v1.ContainerStateWaiting p
2 running core.v1.ContainerStateRunning p
3 terminated core.v1.ContainerStateTerminated p
@core.v1.ContainerStateRunning
1 startedAt time -
@core.v1.ContainerStateTerminated
1 exitCode int k
2 signal int -
3 reason string -
4 message string -
5 startedAt time -
6 finishedAt time -
7 containerID string -
@core.v1.ContainerStateWaiting
1 reason string -
2 message string -
@core.v1.ContainerStatus
1 name string k
2 state core.v1.ContainerState -
3 lastState core.v1.ContainerState -
4 ready bool k
5 restartCount int k
6 image string k
7 imageID string k
8 containerID string -
9 started bool p
10 allocatedResources map:quantity -
11 resources core.v1.ResourceRequirements p
12 volumeMounts core.v1.VolumeMountStatus r
13 user core.v1.ContainerUser p
14 allocatedResourcesStatus core.v1.ResourceStatus r
15 stopSignal string p
@core.v1.ContainerUser
1 linux core.v1.LinuxContainerUser p
@core.v1.DaemonEndpoint
1 Port int k
@core.v1.DownwardAPIProjection
1 items core.v1.DownwardAPIVolumeFile r
@core.v1.DownwardAPIVolumeFile
1 path string k
2 fieldRef core.v1.ObjectFieldSelector p
3 resourceFieldRef core.v1.ResourceFieldSelector p
4 mode int p
5 user int p
@core.v1.DownwardAPIVolumeSource
1 items core.v1.DownwardAPIVolumeFile r
2 defaultMode int p
3 defaultUser int p
@core.v1.EmptyDirVolumeSource
1 medium string -
2 sizeLimit quantity p
3 mode int p
@core.v1.EndpointAddress
1 ip string k
3 hostname string -
4 nodeName string p
2 targetRef core.v1.ObjectReference p
@core.v1.EndpointPort
1 name string -
2 port int k
3 protocol string -
4 appProtocol string p
@core.v1.EndpointSubset
1 addresses core.v1.EndpointAddress r
2 notReadyAddresses core.v1.EndpointAddress r
3 ports core.v1.EndpointPort r
@core.v1.Endpoints
1 metadata meta.v1.ObjectMeta -
2 subsets core.v1.EndpointSubset r
@core.v1.EnvFromSource
1 prefix string -
2 configMapRef core.v1.ConfigMapEnvSource p
3 secretRef core.v1.SecretEnvSource p
@core.v1.EnvVar
1 name string k
2 value string -
3 valueFrom core.v1.EnvVarSource p
@core.v1.EnvVarSource
1 fieldRef core.v1.ObjectFieldSelector p
2 resourceFieldRef core.v1.ResourceFieldSelector p
3 configMapKeyRef core.v1.ConfigMapKeySelector p
4 secretKeyRef core.v1.SecretKeySelector p
5 fileKeyRef core.v1.FileKeySelector p
@core.v1.EphemeralContainer
1 ephemeralContainerCommon core.v1.EphemeralContainerCommon -
2 targetContainerName string -
@core.v1.EphemeralContainerCommon
1 name string k
2 image string -
3 command string r
4 args string r
5 workingDir string -
6 ports core.v1.ContainerPort r
19 envFrom core.v1.EnvFromSource r
7 env core.v1.EnvVar r
8 resources core.v1.ResourceRequirements -
23 resizePolicy core.v1.ContainerResizePolicy r
24 restartPolicy string p
25 restartPolicyRules core.v1.ContainerRestartRule r
9 volumeMounts core.v1.VolumeMount r
21 volumeDevices core.v1.VolumeDevice r
10 livenessProbe core.v1.Probe p
11 readinessProbe core.v1.Probe p
22 startupProbe core.v1.Probe p
12 lifecycle core.v1.Lifecycle p
13 terminationMessagePath string -
20 terminationMessagePolicy string -
14 imagePullPolicy string -
15 securityContext core.v1.SecurityContext p
16 stdin bool -
17 stdinOnce bool -
18 tty bool -
@core.v1.EphemeralVolumeSource
1 volumeClaimTemplate core.v1.PersistentVolumeClaimTemplate p
@core.v1.Event
1 metadata meta.v1.ObjectMeta k
2 involvedObject core.v1.ObjectReference k
3 reason string -
4 message string -
5 source core.v1.EventSource -
6 firstTimestamp time -
7 lastTimestamp time -
8 count int -
9 type string -
10 eventTime microtime -
11 series core.v1.EventSeries p
12 action string -
13 related core.v1.ObjectReference p
14 reportingComponent string k
15 reportingInstance string k
@core.v1.EventSeries
1 count int -
2 lastObservedTime microtime -
@core.v1.EventSource
1 component string -
2 host string -
@core.v1.EvictionResponder
1 name string k
2 priority int p
@core.v1.ExecAction
1 command string r
@core.v1.FCVolumeSource
1 targetWWNs string r
2 lun int p
3 fsType string -
4 readOnly bool -
5 wwids string r
@core.v1.FileKeySelector
1 volumeName string k
2 path string k
3 key string k
4 optional bool p
@core.v1.FlexPersistentVolumeSource
1 driver string k
2 fsType string -
3 secretRef core.v1.SecretReference p
4 readOnly bool -
5 options map:string -
@core.v1.FlexVolumeSource
1 driver string k
2 fsType string -
3 secretRef core.v1.LocalObjectReference p
4 readOnly bool -
5 options map:string -
@core.v1.FlockerVolumeSource
1 datasetName string -
2 datasetUUID string -
@core.v1.GCEPersistentDiskVolumeSource
1 pdName string k
2 fsType string -
3 partition int -
4 readOnly bool -
@core.v1.GRPCAction
1 port int k
2 service string p
3 mode string p
@core.v1.GitRepoVolumeSource
1 repository string k
2 revision string -
3 directory string -
@core.v1.GlusterfsPersistentVolumeSource
1 endpoints string k
2 path string k
3 readOnly bool -
4 endpointsNamespace string p
@core.v1.GlusterfsVolumeSource
1 endpoints string k
2 path string k
3 readOnly bool -
@core.v1.HTTPGetAction
1 path string -
2 port intorstring k
3 host string -
4 scheme string -
5 httpHeaders core.v1.HTTPHeader r
6 protocol string p
@core.v1.HTTPHeader
1 name string k
2 value string k
@core.v1.HostAlias
1 ip string k
2 hostnames string r
@core.v1.HostIP
1 ip string k
@core.v1.HostPathVolumeSource
1 path string k
2 type string p
@core.v1.ISCSIPersistentVolumeSource
1 targetPortal string k
2 iqn string k
3 lun int k
4 iscsiInterface string -
5 fsType string -
6 readOnly bool -
7 portals string r
8 chapAuthDiscovery bool -
11 chapAuthSession bool -
10 secretRef core.v1.SecretReference p
12 initiatorName string p
@core.v1.ISCSIVolumeSource
1 targetPortal string k
2 iqn string k
3 lun int k
4 iscsiInterface string -
5 fsType string -
6 readOnly bool -
7 portals string r
8 chapAuthDiscovery bool -
11 chapAuthSession bool -
10 secretRef core.v1.LocalObjectReference p
12 initiatorName string p
@core.v1.ImageVolumeSource
1 reference string -
2 pullPolicy string -
@core.v1.ImageVolumeStatus
1 imageRef string -
@core.v1.KeyToPath
1 key string k
2 path string k
3 mode int p
4 user int p
@core.v1.Lifecycle
1 postStart core.v1.LifecycleHandler p
2 preStop core.v1.LifecycleHandler p
3 stopSignal string p
@core.v1.LifecycleHandler
1 exec core.v1.ExecAction p
2 httpGet core.v1.HTTPGetAction p
3 tcpSocket core.v1.TCPSocketAction p
4 sleep core.v1.SleepAction p
@core.v1.LimitRange
1 metadata meta.v1.ObjectMeta -
2 spec core.v1.LimitRangeSpec -
@core.v1.LimitRangeItem
1 type string k
2 max map:quantity -
3 min map:quantity -
4 default map:quantity -
5 defaultRequest map:quantity -
6 maxLimitRequestRatio map:quantity -
@core.v1.LimitRangeSpec
1 limits core.v1.LimitRangeItem rk
@core.v1.LinuxContainerUser
1 uid int k
2 gid int k
3 supplementalGroups int r
@core.v1.LoadBalancerIngress
1 ip string -
2 hostname string -
3 ipMode string p
4 ports core.v1.PortStatus r
@core.v1.LoadBalancerStatus
1 ingress core.v1.LoadBalancerIngress r
@core.v1.LocalObjectReference
1 name string -
@core.v1.LocalVolumeSource
1 path string k
2 fsType string p
@core.v1.ModifyVolumeStatus
1 targetVolumeAttributesClassName string -
2 status string k
@core.v1.NFSVolumeSource
1 server string k
2 path string k
3 readOnly bool -
@core.v1.Namespace
1 metadata meta.v1.ObjectMeta -
2 spec core.v1.NamespaceSpec -
3 status core.v1.NamespaceStatus -
@core.v1.NamespaceCondition
1 type string k
2 status string k
4 lastTransitionTime time -
5 reason string -
6 message string -
@core.v1.NamespaceSpec
1 finalizers string r
@core.v1.NamespaceStatus
1 phase string -
2 conditions core.v1.NamespaceCondition r
@core.v1.Node
1 metadata meta.v1.ObjectMeta -
2 spec core.v1.NodeSpec -
3 status core.v1.NodeStatus -
@core.v1.NodeAddress
1 type string k
2 address string k
@core.v1.NodeAffinity
1 requiredDuringSchedulingIgnoredDuringExecution core.v1.NodeSelector p
2 preferredDuringSchedulingIgnoredDuringExecution core.v1.PreferredSchedulingTerm r
@core.v1.NodeAllocatableMappedResources
1 name string k
2 quantity quantity p
@core.v1.NodeAllocatableOverheadResources
1 name string k
2 perPod quantity p
3 perContainer quantity p
@core.v1.NodeAllocatableResourceClaimStatus
1 resourceClaimName string k
2 containers string r
4 mapping core.v1.NodeAllocatableMappedResources r
5 overhead core.v1.NodeAllocatableOverheadResources r
@core.v1.NodeCondition
1 type string k
2 status string k
3 lastHeartbeatTime time -
4 lastTransitionTime time -
5 reason string -
6 message string -
@core.v1.NodeConfigSource
2 configMap core.v1.ConfigMapNodeConfigSource p
@core.v1.NodeConfigStatus
1 assigned core.v1.NodeConfigSource p
2 active core.v1.NodeConfigSource p
3 lastKnownGood core.v1.NodeConfigSource p
4 error string -
@core.v1.NodeDaemonEndpoints
1 kubeletEndpoint core.v1.DaemonEndpoint -
@core.v1.NodeFeatures
1 supplementalGroupsPolicy bool p
@core.v1.NodePodPreemptionPolicy
1 disableResizePreemption string r
@core.v1.NodeRuntimeHandler
1 name string k
2 features core.v1.NodeRuntimeHandlerFeatures p
@core.v1.NodeRuntimeHandlerFeatures
1 recursiveReadOnlyMounts bool p
2 userNamespaces bool p
@core.v1.NodeSelector
1 nodeSelectorTerms core.v1.NodeSelectorTerm rk
@core.v1.NodeSelectorRequirement
1 key string k
2 operator string k
3 values string r
@core.v1.NodeSelectorTerm
1 matchExpressions core.v1.NodeSelectorRequirement r
2 matchFields core.v1.NodeSelectorRequirement r
@core.v1.NodeSpec
1 podCIDR string -
7 podCIDRs string r
3 providerID string -
4 unschedulable bool -
5 taints core.v1.Taint r
6 configSource core.v1.NodeConfigSource p
2 externalID string -
8 podPreemptionPolicy core.v1.NodePodPreemptionPolicy p
@core.v1.NodeStatus
1 capacity map:quantity -
2 allocatable map:quantity -
3 phase string -
4 conditions core.v1.NodeCondition r
5 addresses core.v1.NodeAddress r
6 daemonEndpoints core.v1.NodeDaemonEndpoints -
7 nodeInfo core.v1.NodeSystemInfo -
8 images core.v1.ContainerImage r
9 volumesInUse string r
10 volumesAttached core.v1.AttachedVolume r
11 config core.v1.NodeConfigStatus p
12 runtimeHandlers core.v1.NodeRuntimeHandler r
13 features core.v1.NodeFeatures p
14 declaredFeatures string r
@core.v1.NodeSwapStatus
1 capacity int p
@core.v1.NodeSystemInfo
1 machineID string k
2 systemUUID string k
3 bootID string k
4 kernelVersion string k
5 osImage string k
6 containerRuntimeVersion string k
7 kubeletVersion string k
8 kubeProxyVersion string k
9 operatingSystem string k
10 architecture string k
11 swap core.v1.NodeSwapStatus p
@core.v1.ObjectFieldSelector
1 apiVersion string -
2 fieldPath string k
@core.v1.ObjectReference
1 kind string -
2 namespace string -
3 name string -
4 uid string -
5 apiVersion string -
6 resourceVersion string -
7 fieldPath string -
@core.v1.PersistentVolume
1 metadata meta.v1.ObjectMeta -
2 spec core.v1.PersistentVolumeSpec -
3 status core.v1.PersistentVolumeStatus -
@core.v1.PersistentVolumeClaim
1 metadata meta.v1.ObjectMeta -
2 spec core.v1.PersistentVolumeClaimSpec -
3 status core.v1.PersistentVolumeClaimStatus -
@core.v1.PersistentVolumeClaimCondition
1 type string k
2 status string k
3 lastProbeTime time -
4 lastTransitionTime time -
5 reason string -
6 message string -
@core.v1.PersistentVolumeClaimSpec
1 accessModes string r
4 selector meta.v1.LabelSelector p
2 resources core.v1.VolumeResourceRequirements -
3 volumeName string -
5 storageClassName string p
6 volumeMode string p
7 dataSource core.v1.TypedLocalObjectReference p
8 dataSourceRef core.v1.TypedObjectReference p
9 volumeAttributesClassName string p
@core.v1.PersistentVolumeClaimStatus
1 phase string -
2 accessModes string r
3 capacity map:quantity -
4 conditions core.v1.PersistentVolumeClaimCondition r
5 allocatedResources map:quantity -
7 allocatedResourceStatuses map:string -
8 currentVolumeAttributesClassName string p
9 modifyVolumeStatus core.v1.ModifyVolumeStatus p
10 healthStatus core.v1.VolumeHealthStatus p
@core.v1.PersistentVolumeClaimTemplate
1 metadata meta.v1.ObjectMeta -
2 spec core.v1.PersistentVolumeClaimSpec k
@core.v1.PersistentVolumeClaimVolumeSource
1 claimName string k
2 readOnly bool -
@core.v1.PersistentVolumeSource
1 gcePersistentDisk core.v1.GCEPersistentDiskVolumeSource p
2 awsElasticBlockStore core.v1.AWSElasticBlockStoreVolumeSource p
3 hostPath core.v1.HostPathVolumeSource p
4 glusterfs core.v1.GlusterfsPersistentVolumeSource p
5 nfs core.v1.NFSVolumeSource p
6 rbd core.v1.RBDPersistentVolumeSource p
7 iscsi core.v1.ISCSIPersistentVolumeSource p
8 cinder core.v1.CinderPersistentVolumeSource p
9 cephfs core.v1.CephFSPersistentVolumeSource p
10 fc core.v1.FCVolumeSource p
11 flocker core.v1.FlockerVolumeSource p
12 flexVolume core.v1.FlexPersistentVolumeSource p
13 azureFile core.v1.AzureFilePersistentVolumeSource p
14 vsphereVolume core.v1.VsphereVirtualDiskVolumeSource p
15 quobyte core.v1.QuobyteVolumeSource p
16 azureDisk core.v1.AzureDiskVolumeSource p
17 photonPersistentDisk core.v1.PhotonPersistentDiskVolumeSource p
18 portworxVolume core.v1.PortworxVolumeSource p
19 scaleIO core.v1.ScaleIOPersistentVolumeSource p
20 local core.v1.LocalVolumeSource p
21 storageos core.v1.StorageOSPersistentVolumeSource p
22 csi core.v1.CSIPersistentVolumeSource p
@core.v1.PersistentVolumeSpec
1 capacity map:quantity -
2 persistentVolumeSource core.v1.PersistentVolumeSource ik
3 accessModes string r
4 claimRef core.v1.ObjectReference p
5 persistentVolumeReclaimPolicy string -
6 storageClassName string -
7 mountOptions string r
8 volumeMode string p
9 nodeAffinity core.v1.VolumeNodeAffinity p
10 volumeAttributesClassName string p
@core.v1.PersistentVolumeStatus
1 phase string -
2 message string -
3 reason string -
4 lastPhaseTransitionTime time p
@core.v1.PhotonPersistentDiskVolumeSource
1 pdID string k
2 fsType string -
@core.v1.Pod
1 metadata meta.v1.ObjectMeta -
2 spec core.v1.PodSpec -
3 status core.v1.PodStatus -
@core.v1.PodAffinity
1 requiredDuringSchedulingIgnoredDuringExecution core.v1.PodAffinityTerm r
2 preferredDuringSchedulingIgnoredDuringExecution core.v1.WeightedPodAffinityTerm r
@core.v1.PodAffinityTerm
1 labelSelector meta.v1.LabelSelector p
2 namespaces string r
3 topologyKey string k
4 namespaceSelector meta.v1.LabelSelector p
5 matchLabelKeys string r
6 mismatchLabelKeys string r
@core.v1.PodAntiAffinity
1 requiredDuringSchedulingIgnoredDuringExecution core.v1.PodAffinityTerm r
2 preferredDuringSchedulingIgnoredDuringExecution core.v1.WeightedPodAffinityTerm r
@core.v1.PodCertificateProjection
1 signerName string -
2 keyType string -
3 maxExpirationSeconds int p
4 credentialBundlePath string -
5 keyPath string -
6 certificateChainPath string -
7 userAnnotations map:string -
8 user int p
@core.v1.PodCondition
1 type string k
7 observedGeneration int -
2 status string k
3 lastProbeTime time -
4 lastTransitionTime time -
5 reason string -
6 message string -
@core.v1.PodDNSConfig
1 nameservers string r
2 searches string r
3 options core.v1.PodDNSConfigOption r
@core.v1.PodDNSConfigOption
1 name string -
2 value string p
@core.v1.PodExtendedResourceClaimStatus
1 requestMappings core.v1.ContainerExtendedResourceRequest rk
2 resourceClaimName string k
@core.v1.PodIP
1 ip string k
@core.v1.PodOS
1 name string k
@core.v1.PodReadinessGate
1 conditionType string k
@core.v1.PodResourceClaim
1 name string k
3 resourceClaimName string p
4 resourceClaimTemplateName string p
@core.v1.PodResourceClaimStatus
1 name string k
2 resourceClaimName string p
@core.v1.PodSchedulingGate
1 name string k
@core.v1.PodSchedulingGroup
1 podGroupName string p
@core.v1.PodSecurityContext
1 seLinuxOptions core.v1.SELinuxOptions p
8 windowsOptions core.v1.WindowsSecurityContextOptions p
2 runAsUser int p
6 runAsGroup int p
3 runAsNonRoot bool p
4 supplementalGroups int r
12 supplementalGroupsPolicy string p
5 fsGroup int p
7 sysctls core.v1.Sysctl r
9 fsGroupChangePolicy string p
10 seccompProfile core.v1.SeccompProfile p
11 appArmorProfile core.v1.AppArmorProfile p
13 seLinuxChangePolicy string p
@core.v1.PodSpec
1 volumes core.v1.Volume r
20 initContainers core.v1.Container r
2 containers core.v1.Container rk
34 ephemeralContainers core.v1.EphemeralContainer r
3 restartPolicy string -
4 terminationGracePeriodSeconds int p
5 activeDeadlineSeconds int p
6 dnsPolicy string -
7 nodeSelector map:string -
8 serviceAccountName string -
9 serviceAccount string -
21 automountServiceAccountToken bool p
10 nodeName string -
11 hostNetwork bool -
12 hostPID bool -
13 hostIPC bool -
27 shareProcessNamespace bool p
14 securityContext core.v1.PodSecurityContext p
15 imagePullSecrets core.v1.LocalObjectReference r
16 hostname string -
17 subdomain string -
18 affinity core.v1.Affinity p
19 schedulerName string -
22 tolerations core.v1.Toleration r
23 hostAliases core.v1.HostAlias r
24 priorityClassName string -
25 priority int p
26 dnsConfig core.v1.PodDNSConfig p
28 readinessGates core.v1.PodReadinessGate r
29 runtimeClassName string p
30 enableServiceLinks bool p
31 preemptionPolicy string p
32 overhead map:quantity -
33 topologySpreadConstraints core.v1.TopologySpreadConstraint r
35 setHostnameAsFQDN bool p
36 os core.v1.PodOS p
37 hostUsers bool p
38 schedulingGates core.v1.PodSchedulingGate r
39 resourceClaims core.v1.PodResourceClaim r
40 resources core.v1.ResourceRequirements p
41 hostnameOverride string p
43 schedulingGroup core.v1.PodSchedulingGroup p
44 evictionResponders core.v1.EvictionResponder r
@core.v1.PodStatus
17 observedGeneration int -
1 phase string -
2 conditions core.v1.PodCondition r
3 message string -
4 reason string -
11 nominatedNodeName string -
5 hostIP string -
16 hostIPs core.v1.HostIP r
6 podIP string -
12 podIPs core.v1.PodIP r
7 startTime time p
10 initContainerStatuses core.v1.ContainerStatus r
8 containerStatuses core.v1.ContainerStatus r
9 qosClass string -
13 ephemeralContainerStatuses core.v1.ContainerStatus r
14 resize string -
15 resourceClaimStatuses core.v1.PodResourceClaimStatus r
18 extendedResourceClaimStatus core.v1.PodExtendedResourceClaimStatus p
19 allocatedResources map:quantity -
20 resources core.v1.ResourceRequirements p
21 nodeAllocatableResourceClaimStatuses core.v1.NodeAllocatableResourceClaimStatus r
22 volumeHealth core.v1.PodVolumeHealth r
@core.v1.PodTemplateSpec
1 metadata meta.v1.ObjectMeta -
2 spec core.v1.PodSpec -
@core.v1.PodVolumeHealth
1 name string k
2 healthConditions core.v1.VolumeHealthCondition r
3 lastTransitionTime time -
@core.v1.PortStatus
1 port int k
2 protocol string k
3 error string p
@core.v1.PortworxVolumeSource
1 volumeID string k
2 fsType string -
3 readOnly bool -
@core.v1.PreferredSchedulingTerm
1 weight int k
2 preference core.v1.NodeSelectorTerm k
@core.v1.Probe
1 handler core.v1.ProbeHandler ik
2 initialDelaySeconds int -
3 timeoutSeconds int -
4 periodSeconds int -
5 successThreshold int -
6 failureThreshold int -
7 terminationGracePeriodSeconds int p
@core.v1.ProbeHandler
1 exec core.v1.ExecAction p
2 httpGet core.v1.HTTPGetAction p
3 tcpSocket core.v1.TCPSocketAction p
4 grpc core.v1.GRPCAction p
@core.v1.ProjectedVolumeSource
1 sources core.v1.VolumeProjection rk
2 defaultMode int p
3 defaultUser int p
@core.v1.QuobyteVolumeSource
1 registry string k
2 volume string k
3 readOnly bool -
4 user string -
5 group string -
6 tenant string -
@core.v1.RBDPersistentVolumeSource
1 monitors string rk
2 image string k
3 fsType string -
4 pool string -
5 user string -
6 keyring string -
7 secretRef core.v1.SecretReference p
8 readOnly bool -
@core.v1.RBDVolumeSource
1 monitors string rk
2 image string k
3 fsType string -
4 pool string -
5 user string -
6 keyring string -
7 secretRef core.v1.LocalObjectReference p
8 readOnly bool -
@core.v1.ReplicationController
1 metadata meta.v1.ObjectMeta -
2 spec core.v1.ReplicationControllerSpec -
3 status core.v1.ReplicationControllerStatus -
@core.v1.ReplicationControllerCondition
1 type string k
2 status string k
3 lastTransitionTime time -
4 reason string -
5 message string -
@core.v1.ReplicationControllerSpec
1 replicas int p
4 minReadySeconds int -
2 selector map:string -
3 template core.v1.PodTemplateSpec p
@core.v1.ReplicationControllerStatus
1 replicas int k
2 fullyLabeledReplicas int -
4 readyReplicas int -
5 availableReplicas int -
3 observedGeneration int -
6 conditions core.v1.ReplicationControllerCondition r
@core.v1.ResourceClaim
1 name string k
2 request string -
@core.v1.ResourceFieldSelector
1 containerName string -
2 resource string k
3 divisor quantity -
@core.v1.ResourceHealth
1 resourceID string k
2 health string -
6 message string p
@core.v1.ResourceQuota
1 metadata meta.v1.ObjectMeta -
2 spec core.v1.ResourceQuotaSpec -
3 status core.v1.ResourceQuotaStatus -
@core.v1.ResourceQuotaSpec
1 hard map:quantity -
2 scopes string r
3 scopeSelector core.v1.ScopeSelector p
@core.v1.ResourceQuotaStatus
1 hard map:quantity -
2 used map:quantity -
@core.v1.ResourceRequirements
1 limits map:quantity -
2 requests map:quantity -
3 claims core.v1.ResourceClaim r
@core.v1.ResourceStatus
1 name string k
2 resources core.v1.ResourceHealth r
@core.v1.SELinuxOptions
1 user string -
2 role string -
3 type string -
4 level string -
@core.v1.ScaleIOPersistentVolumeSource
1 gateway string k
2 system string k
3 secretRef core.v1.SecretReference p
4 sslEnabled bool -
5 protectionDomain string -
6 storagePool string -
7 storageMode string -
8 volumeName string -
9 fsType string -
10 readOnly bool -
@core.v1.ScaleIOVolumeSource
1 gateway string k
2 system string k
3 secretRef core.v1.LocalObjectReference p
4 sslEnabled bool -
5 protectionDomain string -
6 storagePool string -
7 storageMode string -
8 volumeName string -
9 fsType string -
10 readOnly bool -
@core.v1.ScopeSelector
1 matchExpressions core.v1.ScopedResourceSelectorRequirement r
@core.v1.ScopedResourceSelectorRequirement
1 scopeName string k
2 operator string k
3 values string r
@core.v1.SeccompProfile
1 type string k
2 localhostProfile string p
@core.v1.Secret
1 metadata meta.v1.ObjectMeta -
5 immutable bool p
2 data map:bytes -
4 stringData map:string -
3 type string -
@core.v1.SecretEnvSource
1 localObjectReference core.v1.LocalObjectReference ik
2 optional bool p
@core.v1.SecretKeySelector
1 localObjectReference core.v1.LocalObjectReference ik
2 key string k
3 optional bool p
@core.v1.SecretProjection
1 localObjectReference core.v1.LocalObjectReference ik
2 items core.v1.KeyToPath r
4 optional bool p
@core.v1.SecretReference
1 name string -
2 namespace string -
@core.v1.SecretVolumeSource
1 secretName string -
2 items core.v1.KeyToPath r
3 defaultMode int p
4 optional bool p
5 defaultUser int p
@core.v1.SecurityContext
1 capabilities core.v1.Capabilities p
2 privileged bool p
3 seLinuxOptions core.v1.SELinuxOptions p
10 windowsOptions core.v1.WindowsSecurityContextOptions p
4 runAsUser int p
8 runAsGroup int p
5 runAsNonRoot bool p
6 readOnlyRootFilesystem bool p
7 allowPrivilegeEscalation bool p
9 procMount string p
11 seccompProfile core.v1.SeccompProfile p
12 appArmorProfile core.v1.AppArmorProfile p
@core.v1.Service
1 metadata meta.v1.ObjectMeta -
2 spec core.v1.ServiceSpec -
3 status core.v1.ServiceStatus -
@core.v1.ServiceAccount
1 metadata meta.v1.ObjectMeta -
2 secrets core.v1.ObjectReference r
3 imagePullSecrets core.v1.LocalObjectReference r
4 automountServiceAccountToken bool p
@core.v1.ServiceAccountTokenProjection
1 audience string -
2 expirationSeconds int p
3 path string k
4 user int p
@core.v1.ServicePort
1 name string -
2 protocol string -
6 appProtocol string p
3 port int k
4 targetPort intorstring -
5 nodePort int -
@core.v1.ServiceSpec
1 ports core.v1.ServicePort r
2 selector map:string -
3 clusterIP string -
18 clusterIPs string r
4 type string -
5 externalIPs string r
7 sessionAffinity string -
8 loadBalancerIP string -
9 loadBalancerSourceRanges string r
10 externalName string -
11 externalTrafficPolicy string -
12 healthCheckNodePort int -
13 publishNotReadyAddresses bool -
14 sessionAffinityConfig core.v1.SessionAffinityConfig p
19 ipFamilies string r
17 ipFamilyPolicy string p
20 allocateLoadBalancerNodePorts bool p
21 loadBalancerClass string p
22 internalTrafficPolicy string p
23 trafficDistribution string p
@core.v1.ServiceStatus
1 loadBalancer core.v1.LoadBalancerStatus -
2 conditions meta.v1.Condition r
@core.v1.SessionAffinityConfig
1 clientIP core.v1.ClientIPConfig p
@core.v1.SleepAction
1 seconds int k
@core.v1.StorageOSPersistentVolumeSource
1 volumeName string -
2 volumeNamespace string -
3 fsType string -
4 readOnly bool -
5 secretRef core.v1.ObjectReference p
@core.v1.StorageOSVolumeSource
1 volumeName string -
2 volumeNamespace string -
3 fsType string -
4 readOnly bool -
5 secretRef core.v1.LocalObjectReference p
@core.v1.Sysctl
1 name string k
2 value string k
@core.v1.TCPSocketAction
1 port intorstring k
2 host string -
@core.v1.Taint
1 key string k
2 value string -
3 effect string k
4 timeAdded time p
@core.v1.Toleration
1 key string -
2 operator string -
3 value string -
4 effect string -
5 tolerationSeconds int p
@core.v1.TopologySelectorLabelRequirement
1 key string k
2 values string rk
@core.v1.TopologySelectorTerm
1 matchLabelExpressions core.v1.TopologySelectorLabelRequirement r
@core.v1.TopologySpreadConstraint
1 maxSkew int k
2 topologyKey string k
3 whenUnsatisfiable string k
4 labelSelector meta.v1.LabelSelector p
5 minDomains int p
6 nodeAffinityPolicy string p
7 nodeTaintsPolicy string p
8 matchLabelKeys string r
@core.v1.TypedLocalObjectReference
1 apiGroup string p
2 kind string k
3 name string k
@core.v1.TypedObjectReference
1 apiGroup string p
2 kind string k
3 name string k
4 namespace string p
@core.v1.Volume
1 name string k
2 volumeSource core.v1.VolumeSource ik
@core.v1.VolumeDevice
1 name string k
2 devicePath string k
@core.v1.VolumeHealthCondition
1 status string k
2 reason string k
3 message string -
@core.v1.VolumeHealthStatus
1 healthConditions core.v1.VolumeHealthCondition r
2 lastTransitionTime time -
@core.v1.VolumeMount
1 name string k
2 readOnly bool -
7 recursiveReadOnly string p
3 mountPath string k
4 subPath string -
5 mountPropagation string p
6 subPathExpr string -
8 bindMountOptions string r
@core.v1.VolumeMountStatus
1 name string k
2 mountPath string k
3 readOnly bool -
4 recursiveReadOnly string p
5 volumeStatus core.v1.VolumeStatus p
@core.v1.VolumeNodeAffinity
1 required core.v1.NodeSelector p
@core.v1.VolumeProjection
1 secret core.v1.SecretProjection p
2 downwardAPI core.v1.DownwardAPIProjection p
3 configMap core.v1.ConfigMapProjection p
4 serviceAccountToken core.v1.ServiceAccountTokenProjection p
5 clusterTrustBundle core.v1.ClusterTrustBundleProjection p
6 podCertificate core.v1.PodCertificateProjection p
@core.v1.VolumeResourceRequirements
1 limits map:quantity -
2 requests map:quantity -
@core.v1.VolumeSource
1 hostPath core.v1.HostPathVolumeSource p
2 emptyDir core.v1.EmptyDirVolumeSource p
3 gcePersistentDisk core.v1.GCEPersistentDiskVolumeSource p
4 awsElasticBlockStore core.v1.AWSElasticBlockStoreVolumeSource p
5 gitRepo core.v1.GitRepoVolumeSource p
6 secret core.v1.SecretVolumeSource p
7 nfs core.v1.NFSVolumeSource p
8 iscsi core.v1.ISCSIVolumeSource p
9 glusterfs core.v1.GlusterfsVolumeSource p
10 persistentVolumeClaim core.v1.PersistentVolumeClaimVolumeSource p
11 rbd core.v1.RBDVolumeSource p
12 flexVolume core.v1.FlexVolumeSource p
13 cinder core.v1.CinderVolumeSource p
14 cephfs core.v1.CephFSVolumeSource p
15 flocker core.v1.FlockerVolumeSource p
16 downwardAPI core.v1.DownwardAPIVolumeSource p
17 fc core.v1.FCVolumeSource p
18 azureFile core.v1.AzureFileVolumeSource p
19 configMap core.v1.ConfigMapVolumeSource p
20 vsphereVolume core.v1.VsphereVirtualDiskVolumeSource p
21 quobyte core.v1.QuobyteVolumeSource p
22 azureDisk core.v1.AzureDiskVolumeSource p
23 photonPersistentDisk core.v1.PhotonPersistentDiskVolumeSource p
26 projected core.v1.ProjectedVolumeSource p
24 portworxVolume core.v1.PortworxVolumeSource p
25 scaleIO core.v1.ScaleIOVolumeSource p
27 storageos core.v1.StorageOSVolumeSource p
28 csi core.v1.CSIVolumeSource p
29 ephemeral core.v1.EphemeralVolumeSource p
30 image core.v1.ImageVolumeSource p
@core.v1.VolumeStatus
1 image core.v1.ImageVolumeStatus p
@core.v1.VsphereVirtualDiskVolumeSource
1 volumePath string k
2 fsType string -
3 storagePolicyName string -
4 storagePolicyID string -
@core.v1.WeightedPodAffinityTerm
1 weight int k
2 podAffinityTerm core.v1.PodAffinityTerm k
@core.v1.WindowsSecurityContextOptions
1 gmsaCredentialSpecName string p
2 gmsaCredentialSpec string p
3 runAsUserName string p
4 hostProcess bool p
@discovery.v1.Endpoint
1 addresses string rk
2 conditions discovery.v1.EndpointConditions -
3 hostname string p
4 targetRef core.v1.ObjectReference p
5 deprecatedTopology map:string -
6 nodeName string p
7 zone string p
8 hints discovery.v1.EndpointHints p
@discovery.v1.EndpointConditions
1 ready bool p
2 serving bool p
3 terminating bool p
@discovery.v1.EndpointHints
1 forZones discovery.v1.ForZone r
2 forNodes discovery.v1.ForNode r
@discovery.v1.EndpointPort
1 name string p
2 protocol string p
3 port int p
4 appProtocol string p
@discovery.v1.EndpointSlice
1 metadata meta.v1.ObjectMeta -
4 addressType string k
2 endpoints discovery.v1.Endpoint rk
3 ports discovery.v1.EndpointPort rk
@discovery.v1.ForNode
1 name string k
@discovery.v1.ForZone
1 name string k
@events.v1.Event
1 metadata meta.v1.ObjectMeta k
2 eventTime microtime k
3 series events.v1.EventSeries p
4 reportingController string -
5 reportingInstance string -
6 action string -
7 reason string -
8 regarding core.v1.ObjectReference -
9 related core.v1.ObjectReference p
10 note string -
11 type string -
12 deprecatedSource core.v1.EventSource -
13 deprecatedFirstTimestamp time -
14 deprecatedLastTimestamp time -
15 deprecatedCount int -
@events.v1.EventSeries
1 count int k
2 lastObservedTime microtime k
@meta.v1.Condition
1 type string k
2 status string k
3 observedGeneration int -
4 lastTransitionTime time k
5 reason string k
6 message string k
@meta.v1.DeleteOptions
1 gracePeriodSeconds int p
2 preconditions meta.v1.Preconditions p
3 orphanDependents bool p
4 propagationPolicy string p
5 dryRun string r
6 ignoreStoreReadErrorWithClusterBreakingPotential bool p
@meta.v1.FieldSelectorRequirement
1 key string k
2 operator string k
3 values string r
@meta.v1.LabelSelector
1 matchLabels map:string -
2 matchExpressions meta.v1.LabelSelectorRequirement r
@meta.v1.LabelSelectorRequirement
1 key string k
2 operator string k
3 values string r
@meta.v1.ManagedFieldsEntry
1 manager string -
2 operation string -
3 apiVersion string -
4 time time p
6 fieldsType string -
7 fieldsV1 rawjson p
8 subresource string -
@meta.v1.ObjectMeta
1 name string -
2 generateName string -
3 namespace string -
4 selfLink string -
5 uid string -
6 resourceVersion string -
7 generation int -
8 creationTimestamp time -
9 deletionTimestamp time p
10 deletionGracePeriodSeconds int p
11 labels map:string -
12 annotations map:string -
13 ownerReferences meta.v1.OwnerReference r
14 finalizers string r
17 managedFields meta.v1.ManagedFieldsEntry r
@meta.v1.OwnerReference
5 apiVersion string k
1 kind string k
3 name string k
4 uid string k
6 controller bool p
7 blockOwnerDeletion bool p
@meta.v1.Preconditions
1 uid string p
2 resourceVersion string p
@networking.v1.HTTPIngressPath
1 path string -
3 pathType string p
2 backend networking.v1.IngressBackend k
@networking.v1.HTTPIngressRuleValue
1 paths networking.v1.HTTPIngressPath rk
@networking.v1.IPBlock
1 cidr string k
2 except string r
@networking.v1.Ingress
1 metadata meta.v1.ObjectMeta -
2 spec networking.v1.IngressSpec -
3 status networking.v1.IngressStatus -
@networking.v1.IngressBackend
4 service networking.v1.IngressServiceBackend p
3 resource core.v1.TypedLocalObjectReference p
@networking.v1.IngressClass
1 metadata meta.v1.ObjectMeta -
2 spec networking.v1.IngressClassSpec -
@networking.v1.IngressClassParametersReference
1 apiGroup string p
2 kind string k
3 name string k
4 scope string p
5 namespace string p
@networking.v1.IngressClassSpec
1 controller string -
2 parameters networking.v1.IngressClassParametersReference p
@networking.v1.IngressLoadBalancerIngress
1 ip string -
2 hostname string -
4 ports networking.v1.IngressPortStatus r
@networking.v1.IngressLoadBalancerStatus
1 ingress networking.v1.IngressLoadBalancerIngress r
@networking.v1.IngressPortStatus
1 port int k
2 protocol string k
3 error string p
@networking.v1.IngressRule
1 host string -
2 ingressRuleValue networking.v1.IngressRuleValue ik
@networking.v1.IngressRuleValue
1 http networking.v1.HTTPIngressRuleValue p
@networking.v1.IngressServiceBackend
1 name string k
2 port networking.v1.ServiceBackendPort -
@networking.v1.IngressSpec
4 ingressClassName string p
1 defaultBackend networking.v1.IngressBackend p
2 tls networking.v1.IngressTLS r
3 rules networking.v1.IngressRule r
@networking.v1.IngressStatus
1 loadBalancer networking.v1.IngressLoadBalancerStatus -
@networking.v1.IngressTLS
1 hosts string r
2 secretName string -
@networking.v1.NetworkPolicy
1 metadata meta.v1.ObjectMeta -
2 spec networking.v1.NetworkPolicySpec -
@networking.v1.NetworkPolicyEgressRule
1 ports networking.v1.NetworkPolicyPort r
2 to networking.v1.NetworkPolicyPeer r
@networking.v1.NetworkPolicyIngressRule
1 ports networking.v1.NetworkPolicyPort r
2 from networking.v1.NetworkPolicyPeer r
@networking.v1.NetworkPolicyPeer
1 podSelector meta.v1.LabelSelector p
2 namespaceSelector meta.v1.LabelSelector p
3 ipBlock networking.v1.IPBlock p
@networking.v1.NetworkPolicyPort
1 protocol string p
2 port intorstring p
3 endPort int p
@networking.v1.NetworkPolicySpec
1 podSelector meta.v1.LabelSelector k
2 ingress networking.v1.NetworkPolicyIngressRule r
3 egress networking.v1.NetworkPolicyEgressRule r
4 policyTypes string r
@networking.v1.ServiceBackendPort
1 name string -
2 number int -
@node.v1.Overhead
1 podFixed map:quantity -
@node.v1.RuntimeClass
1 metadata meta.v1.ObjectMeta -
2 handler string k
3 overhead node.v1.Overhead p
4 scheduling node.v1.Scheduling p
@node.v1.Scheduling
1 nodeSelector map:string -
2 tolerations core.v1.Toleration r
@policy.v1.Eviction
1 metadata meta.v1.ObjectMeta -
2 deleteOptions meta.v1.DeleteOptions p
@policy.v1.PodDisruptionBudget
1 metadata meta.v1.ObjectMeta -
2 spec policy.v1.PodDisruptionBudgetSpec -
3 status policy.v1.PodDisruptionBudgetStatus -
@policy.v1.PodDisruptionBudgetSpec
1 minAvailable intorstring p
2 selector meta.v1.LabelSelector p
3 maxUnavailable intorstring p
4 unhealthyPodEvictionPolicy string p
@policy.v1.PodDisruptionBudgetStatus
1 observedGeneration int -
2 disruptedPods map:time -
3 disruptionsAllowed int k
4 currentHealthy int k
5 desiredHealthy int k
6 expectedPods int k
7 conditions meta.v1.Condition r
@rbac.v1.AggregationRule
1 clusterRoleSelectors meta.v1.LabelSelector r
@rbac.v1.ClusterRole
1 metadata meta.v1.ObjectMeta -
2 rules rbac.v1.PolicyRule rk
3 aggregationRule rbac.v1.AggregationRule p
@rbac.v1.ClusterRoleBinding
1 metadata meta.v1.ObjectMeta -
2 subjects rbac.v1.Subject r
3 roleRef rbac.v1.RoleRef k
@rbac.v1.PolicyRule
1 verbs string rk
2 apiGroups string r
3 resources string r
4 resourceNames string r
5 nonResourceURLs string r
@rbac.v1.Role
1 metadata meta.v1.ObjectMeta -
2 rules rbac.v1.PolicyRule rk
@rbac.v1.RoleBinding
1 metadata meta.v1.ObjectMeta -
2 subjects rbac.v1.Subject r
3 roleRef rbac.v1.RoleRef k
@rbac.v1.RoleRef
1 apiGroup string k
2 kind string k
3 name string k
@rbac.v1.Subject
1 kind string k
2 apiGroup string -
3 name string k
4 namespace string -
@scheduling.v1.PriorityClass
1 metadata meta.v1.ObjectMeta -
2 value int k
3 globalDefault bool -
4 description string -
5 preemptionPolicy string p
@storage.v1.CSIDriver
1 metadata meta.v1.ObjectMeta -
2 spec storage.v1.CSIDriverSpec k
@storage.v1.CSIDriverSpec
1 attachRequired bool p
2 podInfoOnMount bool p
3 volumeLifecycleModes string r
4 storageCapacity bool p
5 fsGroupPolicy string p
6 tokenRequests storage.v1.TokenRequest r
7 requiresRepublish bool p
8 seLinuxMount bool p
9 nodeAllocatableUpdatePeriodSeconds int p
10 serviceAccountTokenInSecrets bool p
11 preventPodSchedulingIfMissing bool p
@storage.v1.CSINode
1 metadata meta.v1.ObjectMeta -
2 spec storage.v1.CSINodeSpec k
3 status storage.v1.CSINodeStatus -
@storage.v1.CSINodeDriver
1 name string k
2 nodeID string k
3 topologyKeys string rk
4 allocatable storage.v1.VolumeNodeResources p
@storage.v1.CSINodeSpec
1 drivers storage.v1.CSINodeDriver rk
@storage.v1.CSINodeStatus
1 storageHealth storage.v1.StorageHealth r
@storage.v1.CSIStorageCapacity
1 metadata meta.v1.ObjectMeta -
2 nodeTopology meta.v1.LabelSelector p
3 storageClassName string k
4 capacity quantity p
5 maximumVolumeSize quantity p
@storage.v1.StorageClass
1 metadata meta.v1.ObjectMeta -
2 provisioner string k
3 parameters map:string -
4 reclaimPolicy string p
5 mountOptions string r
6 allowVolumeExpansion bool p
7 volumeBindingMode string p
8 allowedTopologies core.v1.TopologySelectorTerm r
@storage.v1.StorageHealth
1 name string k
2 healthConditions storage.v1.StorageHealthCondition r
@storage.v1.StorageHealthCondition
1 status string k
2 reason string k
3 message string -
4 accessMode string p
5 volumeMode string p
6 lastTransitionTime time -
@storage.v1.TokenRequest
1 audience string k
2 expirationSeconds int p
@storage.v1.VolumeNodeResources
1 count int p
"""
