# vipa_ros images. Desktop (CUDA wheels from PyPI on the official ROS 2 image):
#   docker build -t vipa_ros .
#   docker run --gpus all --net host --shm-size=512m vipa_ros use_sim:=true command:="pick the blue cup"
# Jetson (L4T with ROS 2 Jazzy, onnxruntime-gpu with the TensorRT execution provider from the JetPack index):
#   docker build -t vipa_ros:jetson --build-arg BASE=dustynv/ros:jazzy-ros-base-l4t-r36.4.0 \
#     --build-arg ORT_PACKAGE="onnxruntime-gpu" --build-arg PIP_EXTRA_INDEX=https://pypi.jetson-ai-lab.dev/jp6/cu126 .
# The install steps are scripts/setup.sh, the same script a developer runs (it uses the image's ROS 2).
ARG BASE=ros:jazzy-ros-base
FROM ${BASE}
ARG ORT_PACKAGE=onnxruntime
ARG PIP_EXTRA_INDEX=""
ENV DEBIAN_FRONTEND=noninteractive PIP_EXTRA_INDEX_URL=${PIP_EXTRA_INDEX} \
    VIPA_VENV=/opt/vipa/venv PYTHON=/usr/bin/python3 MUJOCO_GL=egl
SHELL ["/bin/bash", "-c"]
RUN apt-get update && apt-get install -y --no-install-recommends python3-venv python3-pip git \
      ros-${ROS_DISTRO}-vision-msgs ros-${ROS_DISTRO}-tf2-ros ros-${ROS_DISTRO}-diagnostic-msgs \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /ros2_ws/src/vipa_ros
COPY . .
# On Jetson the GPU build of ONNX Runtime replaces the CPU one named in requirements.txt.
RUN sed -i "s/^onnxruntime$/${ORT_PACKAGE}/" requirements.txt \
    && source /opt/ros/${ROS_DISTRO}/setup.bash && bash scripts/setup.sh \
    && rm -rf /root/.cache/pip
RUN printf '#!/bin/bash\nsource /ros2_ws/src/vipa_ros/env.sh\nexec "$@"\n' > /vipa_entrypoint.sh \
    && chmod +x /vipa_entrypoint.sh
ENTRYPOINT ["/vipa_entrypoint.sh", "ros2", "launch", "vipa_ros", "segment.launch.py"]
CMD []
