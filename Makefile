# vipa_ros developer entry points. `make demo` runs the main job, `make test` the test suite;
# both set the environment up first (scripts/setup.sh is idempotent: seconds when nothing changed).
.PHONY: setup test test-fast demo clean

setup:
	bash scripts/setup.sh

test: setup
	bash scripts/test.sh

# Skip the suites marked slow (local iteration only; CI runs `make test`).
test-fast: setup
	bash scripts/test.sh -m "not slow"

demo: setup
	bash scripts/demo.sh

clean:
	rm -rf ros2_ws/build ros2_ws/install ros2_ws/log
