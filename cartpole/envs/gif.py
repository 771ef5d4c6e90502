"""Record a greedy episode as an animated GIF (works without a display)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cartpole.agent.policy import NumpyPolicy
from cartpole.envs.make import make_env
from cartpole.errors import RenderError
from cartpole.fileio import write_with


def record_gif(path: str | Path, policy: NumpyPolicy, env_id: str,
               max_episode_steps: int | None, seed: int, every: int = 2,
               max_frames: int = 600) -> float:
    """Play one greedy episode, save every ``every``-th frame to ``path``; return its score."""
    from PIL import Image

    quiet_sdl()
    env = make_env(env_id, max_episode_steps, render_mode="rgb_array")
    frames: list[Image.Image] = []
    total = 0.0
    try:
        obs, _ = env.reset(seed=seed)
        step, done = 0, False
        while not done:
            if step % every == 0 and len(frames) < max_frames:
                frames.append(frame(env))
            action = int(policy.q_values(np.asarray(obs, dtype=np.float32).ravel()).argmax())
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
            step += 1
        if len(frames) < max_frames:
            frames.append(frame(env))
    finally:
        env.close()

    save_gif(path, frames, every)
    return total


def save_gif(path: str | Path, frames: list, every: int = 2) -> None:
    """Write ``frames`` (PIL images, every ``every``-th env step) as a looping GIF."""

    def write(tmp: Path) -> None:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:],
                       duration=int(1000 / 50 * every), loop=0, optimize=True)

    write_with(path, write)


def quiet_sdl() -> None:
    """Off-screen frames need no window or sound: keep SDL from probing for them."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")


def frame(env: object) -> object:
    """The env's current picture at half size (the env renders in rgb_array mode)."""
    from PIL import Image

    try:
        rgb = env.render()  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - renderer errors vary by env and backend
        raise RenderError(f"cannot render frames for a GIF: {exc}") from None
    if rgb is None:
        raise RenderError("the env returned no frame in rgb_array mode")
    image = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
    return image.resize((image.width // 2, image.height // 2))
