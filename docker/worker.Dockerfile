# The workers of gradcam evaluate's pipeline on a portable Beam runner (Flink, Spark, Dataflow):
#   docker build -f docker/worker.Dockerfile -t gradcam-worker ../shared   (the context: the weights folder's parent)
#   gradcam evaluate --runner portable --endpoint HOST:PORT --environment docker:gradcam-worker ...
# Beam's Go SDK image runs its boot program, which fetches the job's worker binary (the gradcam
# binary that submitted the job, staged by it) and starts it in worker mode. Models other than
# the embedded and demo ones need their checkpoints here: ../shared/weights, found through
# GRADCAM_WEIGHTS, and GRADCAM_CACHE for the load cache.
FROM apache/beam_go_sdk:2.77.0
COPY weights/ /weights/
ENV GRADCAM_WEIGHTS=/weights GRADCAM_CACHE=/tmp/gradcam-cache
