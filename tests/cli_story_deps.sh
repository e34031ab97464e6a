#!/usr/bin/env bash
# The story engine depends on nothing GPU: no Vulkan, volk, SDL or
# runtime/gpu include anywhere under runtime/story, nor in its public
# headers (DESIGN.md's layers).
set -u
src="$(cd "$(dirname "$0")/.." && pwd)"
hits=$(grep -nE '#[[:space:]]*include[[:space:]]*[<"]([^">]*/)?(vulkan|volk|SDL|rv_gpu|rv_ops|rv_pipelines|vk_)' \
         "$src"/runtime/story/* "$src"/runtime/include/rv_story.h "$src"/runtime/include/rv_prompt.h)
if [ -n "$hits" ]; then
  echo "FAIL GPU or SDL include in the story engine:"
  echo "$hits"
  echo "cli_story_deps: 0 passed, 1 failed"
  exit 1
fi
echo "cli_story_deps: 1 passed, 0 failed"
